/**
 * A faithful in-memory Windows behind the platform's `WindowsApi`, for the
 * Windows platform's tests: local accounts (comments, flags, passwords under
 * the default complexity rule, a new SID each time an account is created),
 * the Remote Desktop Users group under a localized name (German:
 * `Remotedesktopbenutzer`, so only a lookup by SID finds it), WTS sessions
 * (session 0, the console, the RDP listener, and one per RDP logon), user
 * tokens (`ERROR_NO_TOKEN` before the logon completes), processes started
 * as users, logoff, profiles with registry hives, ACL entries per path, and
 * the folders given a protected DACL.
 *
 * The RDP side is real processes: {@linkcode FakeWindowsMachine.rdpLauncher}
 * starts the platform's RDP client command as a real child (the stand-in of
 * {@linkcode standInRdpClient} reads the password from its standard input
 * and reports what it would send to the server on standard output); the
 * machine plays the RDP server: a right password for an account allowed to
 * use Remote Desktop creates (or reconnects) a WTS session that goes from
 * `connected` to `active`; a wrong one leaves the client waiting, as at a
 * credential prompt; the client exiting disconnects the session; a logoff
 * makes the server drop the client.
 *
 * Job objects: {@linkcode FakeWindowsMachine.jobs} records the kill-on-close
 * jobs the platform creates and the pids assigned to each;
 * {@linkcode FakeWindowsMachine.crash} plays the service process dying —
 * Windows closes its job handles, and every process still in one is
 * terminated (the RDP clients, real children here, are SIGKILLed), while
 * processes outside any job live on.
 *
 * Failures are injected with {@linkcode FakeWindowsMachine.failNext}.
 *
 * @module
 */
import {
  denyMask,
  NO_INHERITANCE,
  quoteCommandLine,
  SUB_CONTAINERS_AND_OBJECTS_INHERIT,
} from "../../../ffi/windows/advapi32.ts";
import { NetApiError, Win32Error } from "../../../ffi/windows/errors.ts";
import {
  REMOTE_DESKTOP_USERS_SID,
  UF_ACCOUNTDISABLE,
  UF_LOCKOUT,
  UF_SCRIPT,
} from "../../../ffi/windows/netapi32.ts";
import { sidFromString, sidToString } from "../../../ffi/windows/sid.ts";
import type {
  NewUser,
  ProcessJob,
  UserToken,
  WindowsApi,
  WtsState,
} from "../../../mod/platform/windows/api.ts";
import { PLATFORM_PRIVILEGES } from "../../../mod/platform/windows/api.ts";
import { mergeEnvironment } from "../../../mod/platform/windows/environment.ts";
import {
  DEFAULT_RDP_CLIENT,
  type RdpClientConfig,
  type RdpLaunch,
  type RdpLauncher,
  type RdpProcess,
  spawnRdpClient,
} from "../../../mod/platform/windows/rdp_client.ts";

/** Win32 / NET_API_STATUS codes the fake returns (winerror.h, lmerr.h). */
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_INVALID_HANDLE = 6;
const ERROR_SHARING_VIOLATION = 32;
const ERROR_INVALID_PARAMETER = 87;
const ERROR_NO_TOKEN = 1008;
const ERROR_NOT_ALL_ASSIGNED = 1300;
const ERROR_NONE_MAPPED = 1332;
const ERROR_NO_SUCH_MEMBER = 1387;
const ERROR_CTX_WINSTATION_NOT_FOUND = 7022;
const NERR_GroupNotFound = 2220;
const NERR_UserNotFound = 2221;
const NERR_UserExists = 2224;
const NERR_PasswordTooShort = 2245;
const NERR_BadUsername = 2202;

/** The stand-in RDP client: reads the password line, reports, stays connected. */
const STAND_IN_RDP_CLIENT = `
const arg = (p) => Deno.args.find((a) => a.startsWith(p))?.slice(p.length);
const buf = new Uint8Array(1024);
let text = "";
while (!text.includes("\\n")) {
  const n = await Deno.stdin.read(buf);
  if (n === null) break;
  text += new TextDecoder().decode(buf.subarray(0, n));
}
const password = text.split("\\n")[0].replace(/\\r$/, "");
console.log("LOGON " + JSON.stringify({ server: arg("/v:"), user: arg("/u:"), password }));
setInterval(() => {}, 1 << 30);
`;

/**
 * An RDP client configuration running the stand-in client (a real `deno
 * eval` child) with FreeRDP's default arguments and standard input.
 */
export function standInRdpClient(): RdpClientConfig {
  return {
    command: Deno.execPath(),
    args: ["eval", STAND_IN_RDP_CLIENT, ...DEFAULT_RDP_CLIENT.args],
    stdin: DEFAULT_RDP_CLIENT.stdin,
  };
}

/** A local account. */
export interface FakeUser {
  /** Name as created. */
  name: string;
  /** Current password. */
  password: string;
  /** `usri1_comment`. */
  comment: string;
  /** `usri1_flags`. */
  flags: number;
  /** Its SID (new for every account created). */
  sid: string;
}

/** A WTS session. */
export interface FakeSession {
  /** Session id. */
  id: number;
  /** Window station name. */
  station: string;
  /** Connect state. */
  state: WtsState;
  /** Logged-on user ("" when none). */
  user: string;
  /** The RDP client connected to it. */
  clientPid?: number;
}

/** A process started as a user. */
export interface FakeProcess {
  /** Process id (a multiple of 4, as on Windows). */
  pid: number;
  /** Its session. */
  sessionId: number;
  /** Its user. */
  user: string;
  /** Its arguments. */
  argv: string[];
  /** The command line CreateProcessAsUserW would get. */
  commandLine: string;
  /** Its environment block. */
  env: string[];
  /** Working folder (undefined: the profile). */
  cwd?: string;
  /** Exit code once it has exited. */
  exitCode?: number;
}

/** An ACE on a path. */
export interface FakeAce {
  /** `deny` (webstream only sets those) or `allow`. */
  type: "allow" | "deny";
  /** Trustee SID. */
  sid: string;
  /** Access mask. */
  mask: number;
  /** Inheritance flags. */
  inheritance: number;
}

/** A user profile with its registry hive. */
export interface FakeProfile {
  /** `C:\Users\<name>`. */
  path: string;
  /** Keys (lowercase path) → values (name → data). */
  hive: Map<string, Map<string, { type: string; data: string }>>;
  /** Times the hive was loaded by `restoreHive`. */
  loads: number;
  /** Times it was unloaded by `restoreHive`. */
  unloads: number;
}

/** An RDP logon attempt the server saw. */
export interface FakeLogon {
  /** The address the client connected to. */
  server: string;
  /** The user it sent. */
  user: string;
  /** Whether the credentials were accepted. */
  ok: boolean;
}

interface FakeClient {
  pid: number;
  launch: RdpLaunch;
  process?: RdpProcess;
  /** `/proc/<pid>/cmdline` of the real child, read at its logon. */
  cmdline?: string[];
  exited: boolean;
}

/** A job object the platform created. */
export interface FakeProcessJob extends ProcessJob {
  /** Its handle was closed (the service process ended). */
  closed: boolean;
  /** Pids assigned to it, in order. */
  readonly members: number[];
  /** Pids it killed when it was closed. */
  readonly killed: number[];
}

interface Token extends UserToken {
  user: string;
  closed: boolean;
}

/** Options for {@linkcode FakeWindowsMachine}. */
export interface FakeMachineOptions {
  /** The localized name of Remote Desktop Users. Default `Remotedesktopbenutzer`. */
  remoteDesktopUsers?: string;
  /** Privileges this process's token holds. Default: LocalSystem's. */
  privileges?: readonly string[];
  /** Delay between `connected` and `active` at a logon. Default 20 ms. */
  logonDelayMs?: number;
}

type ApiMethod = keyof WindowsApi;

/** The fake machine. */
export class FakeWindowsMachine {
  /** The platform's view of it. */
  readonly api: WindowsApi;
  /** Starts RDP clients as real children and plays their server. */
  readonly rdpLauncher: RdpLauncher;
  /** Local accounts by lowercase name. */
  readonly users = new Map<string, FakeUser>();
  /** Local groups by SID. */
  readonly groups = new Map<string, { name: string; members: Set<string> }>();
  /** WTS sessions by id. */
  readonly sessions = new Map<number, FakeSession>();
  /** Processes started as users, by pid. */
  readonly processes = new Map<number, FakeProcess>();
  /** Profiles by SID. */
  readonly profiles = new Map<string, FakeProfile>();
  /** Existing paths (lowercase, backslashes) → their explicit ACEs. */
  readonly paths = new Map<string, FakeAce[]>();
  /** Every RDP client start the platform asked for. */
  readonly launches: RdpLaunch[] = [];
  /** Every RDP logon attempt. */
  readonly logons: FakeLogon[] = [];
  /** Every API call, by method name, in order. */
  readonly calls: ApiMethod[] = [];
  /** TCP connections: `host:port` of the local end → owning pid. */
  readonly tcp = new Map<string, number>();
  /** Tokens handed out and not closed. */
  readonly openTokens = new Set<UserToken>();
  /**
   * Folders given a protected SYSTEM + Administrators DACL, in order (as
   * passed). They must exist on the real file system: the platform creates
   * them itself.
   */
  readonly protectedFolders: string[] = [];
  /** Job objects created, in order. */
  readonly jobs: FakeProcessJob[] = [];

  readonly #clients = new Map<number, FakeClient>();
  readonly #exits = new Map<number, PromiseWithResolvers<number>>();
  readonly #failures = new Map<ApiMethod, Error[]>();
  readonly #privileges: Set<string>;
  readonly #logonDelayMs: number;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #nextRid = 1001;
  #nextSession = 2;
  #nextPid = 4000;

  constructor(options: FakeMachineOptions = {}) {
    this.#privileges = new Set(options.privileges ?? PLATFORM_PRIVILEGES);
    this.#logonDelayMs = options.logonDelayMs ?? 20;
    this.groups.set(REMOTE_DESKTOP_USERS_SID, {
      name: options.remoteDesktopUsers ?? "Remotedesktopbenutzer",
      members: new Set(),
    });
    this.groups.set("S-1-5-32-544", {
      name: "Administratoren",
      members: new Set(),
    });
    for (
      const s of [
        { id: 0, station: "Services", state: "disconnected" as const },
        { id: 1, station: "Console", state: "connected" as const },
        { id: 65536, station: "RDP-Tcp", state: "listen" as const },
      ]
    ) this.sessions.set(s.id, { ...s, user: "" });
    this.api = this.#makeApi();
    this.rdpLauncher = (launch) => this.#launch(launch);
  }

  /** Makes the next call(s) of `method` reject with `error` (queued, one each). */
  failNext(method: ApiMethod, error: Error): void {
    this.#failures.set(method, [...this.#failures.get(method) ?? [], error]);
  }

  /** Creates a path (for restrictions) with no explicit ACEs. */
  addPath(path: string): void {
    this.paths.set(normalPath(path), []);
  }

  /** The explicit ACEs on `path`. */
  acesOf(path: string): FakeAce[] {
    return this.paths.get(normalPath(path)) ?? [];
  }

  /** A user by name (any case). */
  user(name: string): FakeUser | undefined {
    return this.users.get(name.toLowerCase());
  }

  /** Creates a local account outside webstream (for refusal tests). */
  addForeignUser(name: string, comment: string): FakeUser {
    return this.#createUser({
      name,
      password: "Foreign-Passw0rd",
      comment,
      flags: UF_SCRIPT,
    });
  }

  /** Changes an account's password behind the platform's back. */
  resetPassword(name: string, password: string): void {
    this.user(name)!.password = password;
  }

  /** The profile of an account, if it has one. */
  profileOf(name: string): FakeProfile | undefined {
    const user = this.user(name);
    return user && this.profiles.get(user.sid);
  }

  /** A tenant writes a value into its hive (it must be logged on). */
  tenantSetsRegistry(name: string, key: string, value: string): void {
    const session = this.#sessionOf(name);
    if (!session) throw new Error(`${name} is not logged on`);
    const hive = this.profileOf(name)!.hive;
    const values = hive.get(key.toLowerCase()) ?? new Map();
    hive.set(
      key.toLowerCase(),
      values.set(value, { type: "REG_SZ", data: value }),
    );
  }

  /** The processes running (not exited) in a session. */
  processesIn(sessionId: number): FakeProcess[] {
    return [...this.processes.values()].filter((p) =>
      p.sessionId === sessionId && p.exitCode === undefined
    );
  }

  /** Ends a process with `code` (as if it exited on its own). */
  exitProcess(pid: number, code: number): void {
    const process = this.processes.get(pid);
    if (!process || process.exitCode !== undefined) return;
    process.exitCode = code;
    this.#exits.get(pid)!.resolve(code);
  }

  /** The command line the OS shows for an RDP client (read at its logon). */
  clientCmdline(pid: number): string[] | undefined {
    return this.#clients.get(pid)?.cmdline;
  }

  /** The command lines the OS showed for every RDP client that logged on. */
  clientCmdlines(): string[][] {
    return [...this.#clients.values()].flatMap((c) =>
      c.cmdline ? [c.cmdline] : []
    );
  }

  /** Pids of the RDP clients still running. */
  runningClients(): number[] {
    return [...this.#clients.values()].filter((c) => !c.exited).map((c) =>
      c.pid
    );
  }

  /**
   * The service process dies (a crash, a kill, or an exit without cleanup):
   * Windows closes its handles, so each open kill-on-close job terminates
   * the processes still in it. Resolves, once they have exited, with the
   * pids killed. RDP clients not in a job keep running.
   */
  async crash(): Promise<number[]> {
    const killed: number[] = [];
    const exits: Promise<unknown>[] = [];
    for (const job of this.jobs) {
      if (job.closed) continue;
      job.closed = true;
      for (const pid of job.members) {
        const client = this.#clients.get(pid);
        if (client && !client.exited && client.process) {
          // TerminateProcess: no chance to clean up, as SIGKILL.
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            continue; // exited meanwhile
          }
          exits.push(client.process.exited);
        } else if (this.processes.get(pid)?.exitCode === undefined) {
          this.exitProcess(pid, 0);
        } else continue;
        job.killed.push(pid);
        killed.push(pid);
      }
    }
    await Promise.all(exits);
    return killed;
  }

  /** Waits for every RDP client to exit and clears pending timers. */
  async close(): Promise<void> {
    for (const client of this.#clients.values()) await client.process?.stop();
    for (const timer of this.#timers) clearTimeout(timer);
  }

  // ---- RDP server ----

  #launch(launch: RdpLaunch): RdpProcess {
    this.launches.push(launch);
    const client: FakeClient = { pid: 0, launch, exited: false };
    // Lines arrive asynchronously, after the pid is filled in.
    const process = spawnRdpClient(launch, {
      onLine: (line) => this.#clientSaid(client, line),
    });
    client.pid = process.pid;
    client.process = process;
    this.#clients.set(client.pid, client);
    process.exited.then(() => this.#clientExited(client));
    return process;
  }

  #clientSaid(client: FakeClient, line: string): void {
    if (!line.startsWith("LOGON ")) return;
    const { server, user, password } = JSON.parse(line.slice(6));
    try {
      client.cmdline = Deno.readTextFileSync(`/proc/${client.pid}/cmdline`)
        .split("\0").filter(Boolean);
    } catch {
      // Not Linux, or already gone.
    }
    if (!/^127\./.test(server) || server === "127.0.0.1") {
      // Windows refuses a loopback connection to 127.0.0.1 from itself.
      this.logons.push({ server, user, ok: false });
      client.process?.stop();
      return;
    }
    const account = this.user(user ?? "");
    const ok = account !== undefined && account.password === password &&
      (account.flags & (UF_ACCOUNTDISABLE | UF_LOCKOUT)) === 0 &&
      this.groups.get(REMOTE_DESKTOP_USERS_SID)!.members.has(account.sid);
    this.logons.push({ server, user, ok });
    // A refused logon leaves the client at its credential prompt.
    if (!ok || client.exited) return;
    const existing = this.#sessionOf(account.name);
    if (existing) {
      // Windows reconnects a user to its disconnected session.
      existing.state = "active";
      existing.clientPid = client.pid;
      return;
    }
    const id = this.#nextSession++;
    const session: FakeSession = {
      id,
      station: `RDP-Tcp#${id}`,
      state: "connected",
      user: "",
      clientPid: client.pid,
    };
    this.sessions.set(id, session);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.sessions.get(id) !== session || session.state !== "connected") {
        return;
      }
      this.#ensureProfile(account);
      session.user = account.name;
      session.state = "active";
    }, this.#logonDelayMs);
    this.#timers.add(timer);
  }

  #clientExited(client: FakeClient): void {
    client.exited = true;
    for (const session of this.sessions.values()) {
      if (session.clientPid !== client.pid) continue;
      session.clientPid = undefined;
      // Still logged on, programs running: only the connection is gone.
      if (session.user) session.state = "disconnected";
      else this.sessions.delete(session.id);
    }
  }

  #sessionOf(name: string): FakeSession | undefined {
    return [...this.sessions.values()].find((s) =>
      s.user && s.user.toLowerCase() === name.toLowerCase()
    );
  }

  #ensureProfile(user: FakeUser): void {
    if (this.profiles.has(user.sid)) return;
    const temp = {
      type: "REG_EXPAND_SZ",
      data: "%USERPROFILE%\\AppData\\Local\\Temp",
    };
    this.profiles.set(user.sid, {
      path: `C:\\Users\\${user.name}`,
      hive: new Map([
        ["environment", new Map([["TEMP", temp], ["TMP", temp]])],
        ["software\\microsoft\\windows\\currentversion\\run", new Map()],
      ]),
      loads: 0,
      unloads: 0,
    });
  }

  #createUser(user: NewUser): FakeUser {
    const entry = {
      name: user.name,
      password: user.password,
      comment: user.comment,
      flags: user.flags,
      sid: `S-1-5-21-1111111111-2222222222-3333333333-${this.#nextRid++}`,
    };
    this.users.set(user.name.toLowerCase(), entry);
    return entry;
  }

  // ---- WindowsApi ----

  #makeApi(): WindowsApi {
    const impl = this.#implementation();
    const api = {} as Record<string, unknown>;
    for (const [name, fn] of Object.entries(impl)) {
      const method = name as ApiMethod;
      api[name] = (...args: unknown[]) => {
        this.calls.push(method);
        // closeHandle is synchronous, as CloseHandle is.
        const sync = method === "closeHandle";
        try {
          const error = this.#failures.get(method)?.shift();
          if (error) throw error;
          const value = (fn as (...a: unknown[]) => unknown)(...args);
          return sync ? value : Promise.resolve(value);
        } catch (error) {
          if (sync) throw error;
          return Promise.reject(error);
        }
      };
    }
    return api as unknown as WindowsApi;
  }

  /** The API's behaviour, synchronously; `#makeApi` makes it asynchronous. */
  #implementation(): Synchronous<WindowsApi> {
    const requireUser = (fn: string, name: string): FakeUser => {
      const user = this.user(name);
      if (!user) throw new NetApiError(fn, NERR_UserNotFound);
      return user;
    };
    const checkPassword = (fn: string, password: string): void => {
      const kinds = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/]
        .filter((kind) => kind.test(password)).length;
      // A Windows Server's default policy: complexity, 7+ characters.
      if (kinds < 3 || password.length < 7 || password.length > 127) {
        throw new NetApiError(fn, NERR_PasswordTooShort);
      }
    };
    const requireFlags = (fn: string, flags: number): void => {
      if (!(flags & UF_SCRIPT)) {
        throw new NetApiError(fn, ERROR_INVALID_PARAMETER);
      }
    };
    const pathAces = (path: string): FakeAce[] => {
      const aces = this.paths.get(normalPath(path));
      if (!aces) {
        throw new Win32Error("GetNamedSecurityInfoW", ERROR_FILE_NOT_FOUND);
      }
      return aces;
    };
    const loaded = (sidString: string): boolean =>
      [...this.sessions.values()].some((s) =>
        s.user !== "" && this.user(s.user)?.sid === sidString
      );

    return {
      enablePrivileges: (names) => {
        for (const name of names) {
          if (!this.#privileges.has(name)) {
            throw new Win32Error(
              "AdjustTokenPrivileges",
              ERROR_NOT_ALL_ASSIGNED,
            );
          }
        }
      },

      getUser: (name) => {
        const user = this.user(name);
        return user && { comment: user.comment, flags: user.flags };
      },

      addUser: (user) => {
        if (!user.name || user.name.length > 20) {
          throw new NetApiError("NetUserAdd", NERR_BadUsername);
        }
        if (this.user(user.name)) {
          throw new NetApiError("NetUserAdd", NERR_UserExists);
        }
        requireFlags("NetUserAdd", user.flags);
        checkPassword("NetUserAdd", user.password);
        this.#createUser(user);
      },

      setPassword: (name, password) => {
        const user = requireUser("NetUserSetInfo", name);
        checkPassword("NetUserSetInfo", password);
        user.password = password;
      },

      setUserFlags: (name, flags) => {
        const user = requireUser("NetUserSetInfo", name);
        requireFlags("NetUserSetInfo", flags);
        // UF_LOCKOUT can be cleared, never set.
        user.flags = (flags & ~UF_LOCKOUT) | (flags & user.flags & UF_LOCKOUT);
      },

      deleteUser: (name) => {
        const user = this.user(name);
        if (!user) return false;
        this.users.delete(name.toLowerCase());
        for (const group of this.groups.values()) {
          group.members.delete(user.sid);
        }
        return true;
      },

      accountSid: (name) => {
        const user = this.user(name);
        if (!user) {
          throw new Win32Error("LookupAccountNameW", ERROR_NONE_MAPPED);
        }
        return { sid: sidFromString(user.sid), sidString: user.sid };
      },

      groupName: (sidString) => {
        const group = this.groups.get(sidString);
        if (!group) {
          throw new Win32Error("LookupAccountSidW", ERROR_NONE_MAPPED);
        }
        return group.name;
      },

      addToGroup: (groupName, sid) => {
        const group = [...this.groups.values()].find((g) =>
          g.name.toLowerCase() === groupName.toLowerCase()
        );
        if (!group) {
          throw new NetApiError("NetLocalGroupAddMembers", NERR_GroupNotFound);
        }
        const member = sidToString(sid);
        if (![...this.users.values()].some((u) => u.sid === member)) {
          throw new NetApiError(
            "NetLocalGroupAddMembers",
            ERROR_NO_SUCH_MEMBER,
          );
        }
        group.members.add(member);
      },

      sessions: () => {
        return [...this.sessions.values()].map((s) => ({
          id: s.id,
          station: s.station,
          state: s.state,
          user: s.user,
        }));
      },

      logoff: (id) => {
        const session = this.sessions.get(id);
        if (!session) return;
        for (const process of this.processesIn(id)) {
          this.exitProcess(process.pid, 1);
        }
        this.sessions.delete(id);
        // The server drops the connection; the client ends.
        if (session.clientPid !== undefined) {
          this.#clients.get(session.clientPid)?.process?.stop();
        }
      },

      userToken: (sessionId) => {
        const session = this.sessions.get(sessionId);
        if (!session) {
          throw new Win32Error("WTSQueryUserToken", ERROR_FILE_NOT_FOUND);
        }
        if (!session.user || sessionId === 0) {
          throw new Win32Error("WTSQueryUserToken", ERROR_NO_TOKEN);
        }
        const token: Token = { sessionId, user: session.user, closed: false };
        this.openTokens.add(token);
        return token;
      },

      closeHandle: (token) => {
        if (!this.openTokens.delete(token)) {
          throw new Win32Error("CloseHandle", ERROR_INVALID_HANDLE);
        }
        (token as Token).closed = true;
      },

      startProcessAsUser: (token, options) => {
        const t = token as Token;
        if (t.closed || !this.openTokens.has(t)) {
          throw new Win32Error("CreateProcessAsUserW", ERROR_INVALID_HANDLE);
        }
        const session = this.sessions.get(t.sessionId);
        if (!session || session.user !== t.user) {
          throw new Win32Error(
            "CreateProcessAsUserW",
            ERROR_CTX_WINSTATION_NOT_FOUND,
          );
        }
        const commandLine = quoteCommandLine(options.argv);
        const profile = this.profileOf(t.user)!.path;
        const env = mergeEnvironment([
          `USERNAME=${t.user}`,
          `USERPROFILE=${profile}`,
          `TEMP=${profile}\\AppData\\Local\\Temp`,
          "SystemRoot=C:\\Windows",
        ], options.env);
        const pid = this.#nextPid += 4;
        this.processes.set(pid, {
          pid,
          sessionId: t.sessionId,
          user: t.user,
          argv: [...options.argv],
          commandLine,
          env,
          cwd: options.cwd,
        });
        const exit = Promise.withResolvers<number>();
        this.#exits.set(pid, exit);
        return {
          pid,
          wait: () => exit.promise,
          kill: () => this.exitProcess(pid, 1),
        };
      },

      createProcessJob: () => {
        const job: FakeProcessJob = {
          killOnClose: true,
          closed: false,
          members: [],
          killed: [],
        };
        this.jobs.push(job);
        return job;
      },

      assignToJob: (job, pid) => {
        const fake = job as FakeProcessJob;
        if (!this.jobs.includes(fake) || fake.closed) {
          throw new Win32Error(
            "AssignProcessToJobObject",
            ERROR_INVALID_HANDLE,
          );
        }
        const client = this.#clients.get(pid);
        const process = this.processes.get(pid);
        const running = client
          ? !client.exited
          : process !== undefined && process.exitCode === undefined;
        if (!running) {
          throw new Win32Error("OpenProcess", ERROR_INVALID_PARAMETER);
        }
        if (!fake.members.includes(pid)) fake.members.push(pid);
      },

      processSessionId: (pid) => {
        const process = this.processes.get(pid);
        if (process && process.exitCode === undefined) return process.sessionId;
        const client = this.#clients.get(pid);
        if (client && !client.exited) return 0;
        throw new Win32Error("ProcessIdToSessionId", ERROR_INVALID_PARAMETER);
      },

      tcpOwnerPid: (local) => {
        return this.tcp.get(`${local.hostname}:${local.port}`);
      },

      denyAccess: (path, sid, rule) => {
        const trustee = sidToString(sid);
        const kept = pathAces(path).filter((a) =>
          a.type !== "deny" || a.sid !== trustee
        );
        kept.push({
          type: "deny",
          sid: trustee,
          mask: denyMask(rule.deny),
          inheritance: rule.recursive
            ? SUB_CONTAINERS_AND_OBJECTS_INHERIT
            : NO_INHERITANCE,
        });
        this.paths.set(normalPath(path), kept);
      },

      clearDenies: (path, sid) => {
        const trustee = sidToString(sid);
        this.paths.set(
          normalPath(path),
          pathAces(path).filter((a) => a.type !== "deny" || a.sid !== trustee),
        );
      },

      protectFolder: (path) => {
        let isFolder = false;
        try {
          isFolder = Deno.statSync(path).isDirectory;
        } catch {
          // Missing: as SetNamedSecurityInfoW reports it.
        }
        if (!isFolder) {
          throw new Win32Error("SetNamedSecurityInfoW", ERROR_FILE_NOT_FOUND);
        }
        this.protectedFolders.push(path);
      },

      deleteProfile: (sidString) => {
        if (!this.profiles.has(sidString)) return false;
        if (loaded(sidString)) {
          throw new Win32Error("DeleteProfileW", ERROR_SHARING_VIOLATION);
        }
        this.profiles.delete(sidString);
        return true;
      },

      restoreHive: ({ sidString }, restore) => {
        const profile = this.profiles.get(sidString);
        if (!profile) return false;
        // A logged-on user's hive is loaded already; otherwise load it.
        const load = !loaded(sidString);
        if (load) profile.loads++;
        for (const key of restore.deleteKeys) {
          const root = key.toLowerCase();
          for (const existing of [...profile.hive.keys()]) {
            if (existing === root || existing.startsWith(`${root}\\`)) {
              profile.hive.delete(existing);
            }
          }
        }
        for (const value of restore.setValues) {
          const key = value.key.toLowerCase();
          const values = profile.hive.get(key) ?? new Map();
          values.set(value.name, { type: value.type, data: value.data });
          profile.hive.set(key, values);
        }
        if (load) profile.unloads++;
        return true;
      },
    };
  }
}

/** An interface's methods, returning their results directly. */
type Synchronous<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Awaited<R>
    : never;
};

function normalPath(path: string): string {
  return path.replaceAll("/", "\\").replace(/\\+$/, "").toLowerCase();
}
