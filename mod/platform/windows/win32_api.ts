/**
 * The real {@linkcode WindowsApi}: each method delegates to the typed Win32
 * wrappers of `ffi/windows/` (`NetApi32`, `WtsApi32`, `UserEnv`,
 * `Advapi32`, `Kernel32`, `IpHlpApi`) and converts between their
 * vocabulary and the platform's. {@linkcode openWindowsApi} opens the DLLs
 * (Windows only); {@linkcode createWin32Api} takes the wrappers, so tests
 * run it over the fake DLLs of `tests/support/windows/`.
 *
 * @module
 */
import {
  Advapi32,
  HKEY_LOCAL_MACHINE,
  HKEY_USERS,
  openAdvapi32,
  type RegistryRoot,
} from "../../../ffi/windows/advapi32.ts";
import { IpHlpApi, openIpHlpApi } from "../../../ffi/windows/iphlpapi.ts";
import {
  Kernel32,
  openKernel32,
  PROCESS_JOB_ASSIGN,
} from "../../../ffi/windows/kernel32.ts";
import { NetApi32, openNetApi32 } from "../../../ffi/windows/netapi32.ts";
import { wideList } from "../../../ffi/windows/strings.ts";
import {
  openUserEnv,
  PROFILE_LIST,
  UserEnv,
} from "../../../ffi/windows/userenv.ts";
import { openWtsApi32, WtsApi32 } from "../../../ffi/windows/wtsapi32.ts";
import {
  type HiveOwner,
  type HiveRestore,
  type ProcessJob,
  type UserProcess,
  type UserToken,
  type WindowsApi,
  WTS_STATES,
  type WtsSession,
} from "./api.ts";
import {
  entryName,
  localComputerName,
  mergeEnvironment,
} from "./environment.ts";

/** The wrappers the real API delegates to. */
export interface Win32Bindings {
  /** kernel32 (handles, processes, last errors). */
  kernel32: Kernel32;
  /** netapi32 (accounts, groups). */
  netapi32: NetApi32;
  /** wtsapi32 (sessions, tokens, logoff). */
  wtsapi32: WtsApi32;
  /** userenv (environment blocks, profiles). */
  userenv: UserEnv;
  /** advapi32 (privileges, SIDs, processes as users, ACLs, registry). */
  advapi32: Advapi32;
  /** iphlpapi (TCP connection owners). */
  iphlpapi: IpHlpApi;
}

/** Options for {@linkcode createWin32Api}. */
export interface Win32ApiOptions {
  /**
   * This computer's name, which qualifies local account lookups. Default:
   * the `COMPUTERNAME` environment variable (set for every process).
   */
  computerName?: string;
  /** Whether a file exists (the profile's NTUSER.DAT). Default: `Deno.stat`. */
  fileExists?: (path: string) => Promise<boolean>;
}

/** Where Windows records each profile's folder, by SID (`ProfileImagePath`). */
export { PROFILE_LIST };

/** How long one blocking-pool wait for a process lasts before the next. */
const WAIT_SLICE_MS = 3_600_000;

interface Win32Token extends UserToken {
  readonly handle: Deno.PointerValue;
}

interface Win32Job extends ProcessJob {
  readonly handle: Deno.PointerValue;
}

/**
 * Opens kernel32, netapi32, wtsapi32, userenv, advapi32 and iphlpapi and
 * returns the real API (Windows only: it `dlopen`s the DLLs).
 */
export function openWindowsApi(): WindowsApi {
  const kernel32 = new Kernel32(openKernel32());
  return createWin32Api({
    kernel32,
    netapi32: new NetApi32(openNetApi32()),
    wtsapi32: new WtsApi32(openWtsApi32(), kernel32),
    userenv: new UserEnv(openUserEnv(), kernel32),
    advapi32: new Advapi32(openAdvapi32(), kernel32),
    iphlpapi: new IpHlpApi(openIpHlpApi()),
  });
}

/** The platform's API over the Win32 wrappers. */
export function createWin32Api(
  bindings: Win32Bindings,
  options: Win32ApiOptions = {},
): WindowsApi {
  const { kernel32, netapi32, wtsapi32, userenv, advapi32, iphlpapi } =
    bindings;
  const computerName = options.computerName ?? localComputerName();
  const fileExists = options.fileExists ?? statExists;

  function tokenHandle(token: UserToken): Deno.PointerValue {
    const handle = (token as Win32Token).handle;
    if (handle === undefined) throw new TypeError("not a token of this API");
    return handle;
  }

  function jobHandle(job: ProcessJob): Deno.PointerValue {
    const handle = (job as Win32Job).handle;
    if (handle === undefined) throw new TypeError("not a job of this API");
    return handle;
  }

  function listSessions(): WtsSession[] {
    const out: WtsSession[] = [];
    for (const session of wtsapi32.sessions()) {
      let user: string;
      try {
        user = wtsapi32.userName(session.id);
      } catch {
        // Gone between the enumeration and the query, or no user to name.
        user = "";
      }
      out.push({
        id: session.id,
        station: session.winStation,
        // An unknown future state is treated as one that serves nobody.
        state: WTS_STATES[session.state] ?? "down",
        user,
      });
    }
    return out;
  }

  function userProcess(pid: number, handle: Deno.PointerValue): UserProcess {
    let closed = false;
    let exit: Promise<number> | undefined;
    return {
      pid,
      wait() {
        exit ??= (async () => {
          while (!await kernel32.wait(handle, WAIT_SLICE_MS)) {
            // Still running: wait another slice.
          }
          try {
            // Signalled, so it has exited: 259 is its code, not STILL_ACTIVE.
            return kernel32.exitCodeRaw(handle);
          } finally {
            closed = true;
            kernel32.closeHandle(handle);
          }
        })();
        return exit;
      },
      kill() {
        if (closed) return;
        try {
          kernel32.terminateProcess(handle, 1);
        } catch {
          // It has exited (ERROR_ACCESS_DENIED on a finished process).
        }
      },
    };
  }

  /**
   * The profile folder Windows recorded for the account (which may be
   * `name.COMPUTER` or `name.000` when `name` was taken), expanded; only
   * when there is no record, the usual `ProfilesDirectory\name`.
   */
  function profileFolder(owner: HiveOwner): string {
    const recorded = advapi32.getString(
      HKEY_LOCAL_MACHINE,
      `${PROFILE_LIST}\\${owner.sidString}`,
      { name: "ProfileImagePath" },
    );
    if (recorded === undefined) {
      return `${userenv.profilesDirectory()}\\${owner.name}`;
    }
    const folder = recorded.expand
      ? kernel32.expandEnvironment(recorded.data)
      : recorded.data;
    return folder.replace(/\\+$/, "");
  }

  function restore(
    root: RegistryRoot,
    base: string,
    plan: HiveRestore,
  ): void {
    for (const key of plan.deleteKeys) {
      advapi32.deleteTree(root, `${base}\\${key}`);
    }
    for (const value of plan.setValues) {
      advapi32.setString(root, `${base}\\${value.key}`, {
        name: value.name,
        data: value.data,
        expand: value.type === "REG_EXPAND_SZ",
      });
    }
  }

  return {
    enablePrivileges(names) {
      return attempt(() => {
        for (const name of names) advapi32.enablePrivilege(name);
      });
    },

    async getUser(name) {
      const user = await netapi32.getUser(name);
      return user && { comment: user.comment, flags: user.flags };
    },

    async addUser(user) {
      await netapi32.addUser({
        name: user.name,
        password: user.password,
        comment: user.comment,
        flags: user.flags,
      });
    },

    setPassword: (name, password) => netapi32.setPassword(name, password),

    setUserFlags: (name, flags) => netapi32.setFlags(name, flags),

    deleteUser: (name) => netapi32.deleteUser(name),

    accountSid(name) {
      return attempt(() => {
        const qualified = computerName ? `${computerName}\\${name}` : name;
        const account = advapi32.lookupAccount(qualified);
        if (account.use !== "user") {
          throw new Error(`${qualified} is a ${account.use}, not a user`);
        }
        return { sid: account.sid, sidString: account.sidString };
      });
    },

    groupName(sidString) {
      return attempt(() =>
        advapi32.lookupSid(advapi32.sidFromString(sidString)).name
      );
    },

    async addToGroup(group, sid) {
      await netapi32.addGroupMembers(group, [sid]);
    },

    sessions: () => attempt(listSessions),

    async logoff(id) {
      try {
        await wtsapi32.logoff(id);
      } catch (error) {
        // The code of a nonblocking failure is lost: a session that is
        // gone was logged off (or already was).
        if (!wtsapi32.sessions().some((s) => s.id === id)) return;
        throw error;
      }
    },

    userToken(sessionId) {
      return attempt(() => {
        const token: Win32Token = {
          sessionId,
          handle: wtsapi32.userToken(sessionId),
        };
        return token;
      });
    },

    closeHandle(token) {
      kernel32.closeHandle(tokenHandle(token));
    },

    createProcessJob() {
      return attempt(() => {
        // The handle lives as long as the returned object is used; it is
        // never closed: the process's end closes it.
        const job: Win32Job = {
          killOnClose: true,
          handle: kernel32.createKillOnCloseJob(),
        };
        return job;
      });
    },

    assignToJob(job, pid) {
      return attempt(() => {
        const handle = jobHandle(job);
        // The pid is our child's, whose handle Deno holds until it has
        // been reaped: it cannot have been reused by another process.
        const process = kernel32.openProcess(pid, {
          access: PROCESS_JOB_ASSIGN,
        });
        try {
          kernel32.assignToJob(handle, process);
        } finally {
          try {
            kernel32.closeHandle(process);
          } catch {
            // The assignment's outcome is what the caller needs.
          }
        }
      });
    },

    startProcessAsUser(token, process) {
      return attempt(() => {
        const handle = tokenHandle(token);
        const env = mergeEnvironment(
          userenv.environmentStrings(handle),
          process.env,
        );
        const profile = env.find((e) =>
          entryName(e).toUpperCase() === "USERPROFILE"
        )?.slice("USERPROFILE=".length);
        const started = advapi32.createProcessAsUser(handle, {
          argv: process.argv,
          cwd: process.cwd ?? profile,
          environment: wideList(env),
        });
        return userProcess(started.pid, started.processHandle);
      });
    },

    processSessionId: (pid) => attempt(() => kernel32.processSessionId(pid)),

    tcpOwnerPid(local) {
      return attempt(() =>
        iphlpapi.localEndOwner({ address: local.hostname, port: local.port })
      );
    },

    async denyAccess(path, sid, rule) {
      await advapi32.denyAccess(path, sid, {
        deny: rule.deny,
        recursive: rule.recursive,
      });
    },

    async clearDenies(path, sid) {
      await advapi32.removeAccessEntries(path, sid);
    },

    deleteProfile: (sidString) =>
      userenv.deleteProfile(sidString, {
        profileExists: (sid) =>
          advapi32.keyExists(HKEY_LOCAL_MACHINE, `${PROFILE_LIST}\\${sid}`),
      }),

    protectFolder: (path) => advapi32.protectFolder(path),

    async restoreHive(owner, plan) {
      // A logged-on user's hive is loaded under its SID already.
      if (advapi32.keyExists(HKEY_USERS, owner.sidString)) {
        restore(HKEY_USERS, owner.sidString, plan);
        return true;
      }
      // RegLoadKeyW would create a missing hive file: check first.
      const file = `${profileFolder(owner)}\\NTUSER.DAT`;
      if (!await fileExists(file)) return false;
      await advapi32.withLoadedHive(
        file,
        `webstream_${owner.sidString}`,
        (hive) => restore(hive.root, hive.path, plan),
      );
      return true;
    },
  };
}

/** Runs a synchronous wrapper call as a promise (errors become rejections). */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

async function statExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
