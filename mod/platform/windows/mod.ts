/**
 * The Windows platform: every slot is a Remote Desktop session of its own
 * local pool account, created by a loopback RDP client (`rdp_client.ts`) to
 * 127.0.0.2 that stays connected for the session's life. The logon is
 * detected through WTS enumeration, the streamer is started in the session
 * with the user's token (`CreateProcessAsUserW`), and the session ends with
 * `WTSLogoffSession`. Recycle hygiene: the profile is deleted (rebuilt by
 * Windows from the Default profile at the next logon) or, when it is kept,
 * the registry keys a tenant could use to reach the next tenant are reset;
 * `filesystemRestrictions` become NTFS DENY ACEs.
 *
 * Every RDP client is put, right after it starts, in a job object created
 * by `prepare()` with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`. Its handle is
 * never closed, so when the service process ends for any reason, a crash
 * included, Windows closes it and kills the clients: no loopback connection
 * outlives the service. Between the spawn and the assignment (a few
 * synchronous calls) a client is outside the job; if the service dies in
 * exactly that window the client is left, and the next start's logoff of
 * the account's leftover sessions ends its session, after which the client
 * is expected to exit (not verified on Windows).
 *
 * Needs: the service running as LocalSystem (the privileges in
 * {@linkcode PLATFORM_PRIVILEGES}), a Windows Server with the Remote Desktop
 * Session Host role (client editions allow one session at a time), and the
 * RDP client installed. A first logon builds the profile and can take
 * longer than the pool's default `provisioningTimeout` of 30 s: raise it on
 * Windows hosts. All OS calls go through {@linkcode WindowsApi}.
 *
 * @module
 */
import {
  REMOTE_DESKTOP_USERS_SID,
  UF_ACCOUNTDISABLE,
  UF_DONT_EXPIRE_PASSWD,
  UF_LOCKOUT,
  UF_NORMAL_ACCOUNT,
  UF_PASSWD_CANT_CHANGE,
  UF_PASSWORD_EXPIRED,
  UF_SCRIPT,
} from "../../../ffi/windows/netapi32.ts";
import type { Logger } from "../../log/mod.ts";
import { delay, withTimeout } from "../../util/async.ts";
import { type SelfCommand, selfCommand } from "../self_command.ts";
import { streamerArgs, streamerEnv } from "../streamer_command.ts";
import type {
  Hygiene,
  Platform,
  PlatformSession,
  SessionListing,
  SessionSpec,
} from "../types.ts";
import {
  type HiveRestore,
  PLATFORM_PRIVILEGES,
  type ProcessJob,
  type UserInfo,
  type UserProcess,
  type WindowsApi,
  type WtsSession,
} from "./api.ts";
import { localComputerName } from "./environment.ts";
import {
  DEFAULT_RDP_CLIENT,
  LOOPBACK_RDP_SERVER,
  type RdpClientConfig,
  rdpLaunch,
  type RdpLauncher,
  type RdpProcess,
  spawnRdpClient,
} from "./rdp_client.ts";

/** The account comment (`usri1_comment`) that marks a webstream pool account. */
export const POOL_COMMENT = "webstream pool account";

/** The flags pool accounts are created with. */
export const POOL_FLAGS = UF_SCRIPT | UF_NORMAL_ACCOUNT |
  UF_PASSWD_CANT_CHANGE | UF_DONT_EXPIRE_PASSWD;

/**
 * What "registry restore" resets in a kept profile: the autostart keys a
 * tenant could plant a program in for the next tenant, the user
 * environment (back to the Default profile's TEMP/TMP), and the
 * run/typed-path/recent-document histories. (Deleting `Run` also drops the
 * Default profile's own entries there, such as OneDrive's first-run setup.)
 * The full reset is the profile purge, the default.
 */
export const HIVE_RESTORE: HiveRestore = {
  deleteKeys: [
    "Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RunMRU",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\TypedPaths",
    "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs",
    "Environment",
  ],
  setValues: [
    {
      key: "Environment",
      name: "TEMP",
      type: "REG_EXPAND_SZ",
      data: "%USERPROFILE%\\AppData\\Local\\Temp",
    },
    {
      key: "Environment",
      name: "TMP",
      type: "REG_EXPAND_SZ",
      data: "%USERPROFILE%\\AppData\\Local\\Temp",
    },
  ],
};

/** Options for {@linkcode createWindowsPlatform}. */
export interface WindowsPlatformOptions {
  /** The OS operations (`openWindowsApi()` on Windows; a fake in tests). */
  api: WindowsApi;
  /** `webstreamSettings.poolAccounts`: `current` is refused. */
  accountMode: "auto" | "system" | "current";
  /**
   * The RDP clients' working folder, created by `prepare()` and given a
   * protected DACL (LocalSystem and Administrators only). Default
   * `%ProgramData%\webstream`.
   */
  runtimeDirectory?: string;
  /** Logger. */
  logger: Logger;
  /** The RDP client. Default {@linkcode DEFAULT_RDP_CLIENT}. */
  rdpClient?: RdpClientConfig;
  /** Starts the RDP client. Default {@linkcode spawnRdpClient}. */
  launcher?: RdpLauncher;
  /** How the streamer is started. Default {@linkcode selfCommand}. */
  streamerCommand?: SelfCommand;
  /** WTS polling period. Default 300 ms. */
  pollIntervalMs?: number;
  /** How long a logon may take (a first logon builds a profile). Default 60 s. */
  logonTimeoutMs?: number;
  /**
   * How long the user token of a session that has just logged on may stay
   * unavailable (WTSQueryUserToken failing) before the start fails.
   * Default `logonTimeoutMs`.
   */
  tokenTimeoutMs?: number;
  /** How long a logged-off session may stay listed. Default 30 s. */
  logoffTimeoutMs?: number;
}

interface Running {
  session: PlatformSession;
  account: string;
  wtsId: number;
  alive: boolean;
  client: RdpProcess;
  streamer: UserProcess;
  watching: AbortController;
}

/**
 * Creates the Windows platform. Nothing touches the OS until `prepare()`.
 *
 * @throws {Error} for accountMode `current`.
 */
export function createWindowsPlatform(
  options: WindowsPlatformOptions,
): Platform {
  if (options.accountMode === "current") {
    throw new Error(
      'webstreamSettings.poolAccounts "current" is not possible on Windows: ' +
        "every slot is a Remote Desktop session of its own, and so needs its " +
        'own account; use "system" (or "auto")',
    );
  }
  const { api, logger } = options;
  const rdpClient = options.rdpClient ?? DEFAULT_RDP_CLIENT;
  const launcher = options.launcher ?? ((launch) => spawnRdpClient(launch));
  const pollMs = options.pollIntervalMs ?? 300;
  const logonTimeoutMs = options.logonTimeoutMs ?? 60_000;
  const tokenTimeoutMs = options.tokenTimeoutMs ?? logonTimeoutMs;
  const logoffTimeoutMs = options.logoffTimeoutMs ?? 30_000;
  const runtimeDir = options.runtimeDirectory ?? defaultRuntimeDirectory();
  const passwords = new Map<string, string>();
  const running = new Map<PlatformSession, Running>();
  // Paths holding DENY ACEs of each account, revoked when it is removed
  // (ACEs of a deleted SID would linger as "Account Unknown").
  const restricted = new Map<string, Set<string>>();
  let rduGroup: string | undefined;
  // Kept for the process's life: closing it would kill every RDP client.
  let job: ProcessJob | undefined;
  let streamer: SelfCommand | undefined;
  let skeletonWarned = false;

  function requirePrepared(): { group: string; job: ProcessJob } {
    if (!rduGroup || !job) throw new Error("platform not prepared");
    return { group: rduGroup, job };
  }

  /**
   * Puts a client that has just started in the job, so that it dies with
   * the service. A client that cannot be put there is stopped: an orphan
   * that would outlive a crash is worse than a failed start.
   */
  async function confine(
    client: RdpProcess,
    account: string,
    into: ProcessJob,
  ): Promise<void> {
    try {
      await api.assignToJob(into, client.pid);
    } catch (error) {
      logger.error(
        "could not put an RDP client in the service's job object; stopping it",
        { account, pid: client.pid, error },
      );
      await client.stop();
      await logoffAll(account, "after a failed start").catch(() => {});
      throw new Error(
        `the RDP client for ${account} (pid ${client.pid}) could not be ` +
          "put in the service's job object, so it would outlive a crash of " +
          `the service; it was stopped: ${(error as Error).message}`,
      );
    }
  }

  function adopt(name: string, user: UserInfo): void {
    if (user.comment !== POOL_COMMENT) {
      throw new Error(
        `user ${name} exists and is not a webstream pool account ` +
          `(comment "${user.comment}"); choose another serverSessionUsername`,
      );
    }
  }

  /** The password Windows gets: `password`, made complex enough if needed. */
  function effectivePassword(name: string, password: string): string {
    if (/[\r\n\0]/.test(password)) {
      throw new Error("a pool password may not contain a line break or NUL");
    }
    if (complexity(password) >= 3) return password;
    // Windows' default complexity rule wants three of four character kinds.
    logger.warn(
      "pool password extended to meet Windows complexity rules",
      { account: name },
    );
    return `${password}-Aa1`;
  }

  async function sessionsOf(account: string): Promise<WtsSession[]> {
    return (await api.sessions()).filter((s) => sameUser(s.user, account));
  }

  /** Logs session `id` off if it still belongs to `account`, and waits until it is gone. */
  async function logoffOwned(id: number, account: string): Promise<boolean> {
    const session = (await api.sessions()).find((s) => s.id === id);
    // Gone, or the id was reused by someone else's session.
    if (!session || !sameUser(session.user, account)) return false;
    await api.logoff(id);
    const deadline = Date.now() + logoffTimeoutMs;
    while (true) {
      const now = (await api.sessions()).find((s) => s.id === id);
      if (!now || !sameUser(now.user, account)) return true;
      if (Date.now() >= deadline) {
        throw new Error(
          `WTS session ${id} of ${account} was still there ` +
            `${logoffTimeoutMs / 1000} s after its logoff`,
        );
      }
      await delay(pollMs);
    }
  }

  async function logoffAll(account: string, why: string): Promise<void> {
    for (const session of await sessionsOf(account)) {
      logger.info(`logging off a session of the pool account ${why}`, {
        account,
        session: session.id,
        state: session.state,
      });
      await logoffOwned(session.id, account);
    }
  }

  /** Waits until `account` has an active session; rejects if the client exits first. */
  async function waitForLogon(
    account: string,
    client: RdpProcess,
  ): Promise<number> {
    let clientEnded: string | undefined;
    client.exited.then((how) => clientEnded = how);
    const deadline = Date.now() + logonTimeoutMs;
    const wake = new AbortController();
    client.exited.then(() => wake.abort());
    while (true) {
      if (clientEnded !== undefined) {
        throw new Error(
          `the RDP client for ${account} exited before the logon ` +
            `(${clientEnded})${lastWords(client)}`,
        );
      }
      const active = (await api.sessions()).find((s) =>
        sameUser(s.user, account) && s.state === "active"
      );
      if (active) return active.id;
      if (Date.now() >= deadline) {
        throw new Error(
          `${account} was not logged on within ${logonTimeoutMs / 1000} s: ` +
            `no active Remote Desktop session appeared (wrong password, ` +
            `Remote Desktop disabled, or no Remote Desktop logon right?)` +
            lastWords(client),
        );
      }
      await delay(pollMs, { signal: wake.signal });
    }
  }

  /**
   * The user token of session `id`. Right after the logon WTSQueryUserToken
   * fails for a while (ERROR_NO_TOKEN), but its code is a last-error value
   * that may have been overwritten before it was read: any failure is
   * retried until `deadline`, and the last one is logged and thrown then.
   */
  async function tokenOf(id: number, account: string, deadline: number) {
    for (let attempt = 1;; attempt++) {
      try {
        return await api.userToken(id);
      } catch (error) {
        if (Date.now() >= deadline) {
          logger.warn("no user token for the new session; giving up", {
            account,
            session: id,
            attempts: attempt,
            error,
          });
          throw error;
        }
      }
      await delay(pollMs);
    }
  }

  async function startStreamer(
    id: number,
    spec: SessionSpec,
  ): Promise<UserProcess> {
    const command = streamer ?? selfCommand();
    const token = await tokenOf(id, spec.account, Date.now() + tokenTimeoutMs);
    try {
      return await api.startProcessAsUser(token, {
        argv: [command.command, ...command.prefix, ...streamerArgs(spec)],
        env: streamerEnv(spec),
      });
    } finally {
      api.closeHandle(token);
    }
  }

  /** Resolves with why the session ended, unless `signal` aborts first. */
  async function watch(
    id: number,
    account: string,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    while (!signal.aborted) {
      await delay(pollMs, { signal });
      if (signal.aborted) return undefined;
      let session: WtsSession | undefined;
      try {
        session = (await api.sessions()).find((s) => s.id === id);
      } catch (error) {
        logger.debug("WTS enumeration failed", { error });
        continue;
      }
      if (!session || !sameUser(session.user, account)) {
        return `WTS session ${id} of ${account} was logged off`;
      }
      if (ENDED_STATES.has(session.state)) {
        return `WTS session ${id} of ${account} is ${session.state}`;
      }
    }
    return undefined;
  }

  return {
    name: "windows",
    accountMode: "system",
    capabilities: ["windows", "rdp", "desktop", "apps"],

    async prepare() {
      try {
        await api.enablePrivileges(PLATFORM_PRIVILEGES);
      } catch (error) {
        throw new Error(
          "the Windows platform needs the privileges of LocalSystem (run " +
            `webstream as its service): ${(error as Error).message}`,
        );
      }
      rduGroup = await api.groupName(REMOTE_DESKTOP_USERS_SID);
      await Deno.mkdir(runtimeDir, { recursive: true });
      try {
        // %ProgramData% lets every user read and create: the clients'
        // working folder must not be theirs to read or plant files in.
        await api.protectFolder(runtimeDir);
      } catch (error) {
        rduGroup = undefined;
        throw new Error(
          `could not restrict the runtime folder ${runtimeDir} to SYSTEM ` +
            `and Administrators: ${(error as Error).message}`,
        );
      }
      try {
        // Once per process: a second job would be as good, but the first
        // must stay open anyway.
        job ??= await api.createProcessJob();
      } catch (error) {
        rduGroup = undefined;
        throw new Error(
          "could not create the job object that ends the RDP clients with " +
            `the service: ${(error as Error).message}`,
        );
      }
      if (/[\\/]/.test(rdpClient.command)) {
        try {
          await Deno.stat(rdpClient.command);
        } catch {
          throw new Error(
            `the RDP client ${rdpClient.command} does not exist (install ` +
              "FreeRDP or configure another client)",
          );
        }
      }
      streamer = options.streamerCommand ?? selfCommand();
      if (!streamer.compiled) {
        logger.warn(
          "streamers run under deno run: pool accounts need read access to " +
            "the checkout and the Deno cache (use the compiled webstream.exe)",
        );
      }
      logger.info("Windows platform prepared", {
        remoteDesktopUsers: rduGroup,
      });
    },

    async ensureAccount(name, password) {
      const { group } = requirePrepared();
      validateAccountName(name);
      const effective = effectivePassword(name, password);
      const existing = await api.getUser(name);
      if (existing) {
        adopt(name, existing);
        await api.setPassword(name, effective);
        const wanted = (existing.flags &
          ~(UF_ACCOUNTDISABLE | UF_LOCKOUT | UF_PASSWORD_EXPIRED)) |
          UF_PASSWD_CANT_CHANGE | UF_DONT_EXPIRE_PASSWD;
        if (wanted !== existing.flags) await api.setUserFlags(name, wanted);
      } else {
        await api.addUser({
          name,
          password: effective,
          comment: POOL_COMMENT,
          flags: POOL_FLAGS,
        });
        logger.info("created pool account", { account: name });
      }
      await api.addToGroup(group, (await api.accountSid(name)).sid);
      passwords.set(name, effective);
    },

    async rotatePassword(name, password) {
      validateAccountName(name);
      const effective = effectivePassword(name, password);
      await api.setPassword(name, effective);
      passwords.set(name, effective);
    },

    async removeAccount(name) {
      validateAccountName(name);
      const user = await api.getUser(name);
      if (!user) {
        passwords.delete(name);
        return;
      }
      adopt(name, user);
      await logoffAll(name, "being removed");
      const { sid, sidString } = await api.accountSid(name);
      for (const path of restricted.get(name) ?? []) {
        await api.clearDenies(path, sid).catch((error) =>
          logger.warn("could not remove a restriction's DENY ACE", {
            account: name,
            path,
            error,
          })
        );
      }
      restricted.delete(name);
      try {
        await api.deleteProfile(sidString);
      } catch (error) {
        throw new Error(
          `the profile of ${name} could not be deleted (the account is ` +
            `kept): ${(error as Error).message}`,
        );
      }
      await api.deleteUser(name);
      passwords.delete(name);
      logger.info("removed pool account", { account: name });
    },

    async startSession(spec: SessionSpec) {
      const { job: into } = requirePrepared();
      const { account } = spec;
      const password = passwords.get(account);
      if (!password) {
        throw new Error(
          `no password known for pool account ${account} (ensureAccount first)`,
        );
      }
      // A disconnected session of the account would be reconnected to by
      // the new logon, with the last tenant's programs still in it.
      await logoffAll(account, "left from before");
      const client = launcher({
        ...rdpLaunch(rdpClient, {
          server: LOOPBACK_RDP_SERVER,
          account,
          domain: localComputerName() ?? ".",
          password,
          width: spec.screen.width,
          height: spec.screen.height,
        }),
        cwd: runtimeDir,
      });
      // At once: until then a crash of the service would leave it running.
      await confine(client, account, into);
      let id: number;
      let streamerProcess: UserProcess;
      try {
        id = await waitForLogon(account, client);
      } catch (error) {
        await client.stop();
        await logoffAll(account, "after a failed logon").catch(() => {});
        throw error;
      }
      try {
        streamerProcess = await startStreamer(id, spec);
      } catch (error) {
        await logoffOwned(id, account).catch(() => {});
        await client.stop();
        throw new Error(
          `starting the streamer in WTS session ${id} of ${account} failed: ` +
            (error as Error).message,
        );
      }
      const watching = new AbortController();
      const entry = {} as Running;
      const ended = new Promise<string>((resolve) => {
        const finish = (reason: string | undefined): void => {
          if (reason === undefined) return;
          entry.alive = false;
          if (!watching.signal.aborted) resolve(reason);
        };
        streamerProcess.wait().then(
          (code) => finish(`streamer exited (code ${code})`),
          (error) => finish(`streamer lost: ${(error as Error).message}`),
        );
        client.exited.then((how) => finish(`RDP client exited (${how})`));
        watch(id, account, watching.signal).then(finish);
      });
      const session: PlatformSession = {
        slot: spec.slot,
        account,
        id: String(id),
        ended,
      };
      Object.assign(entry, {
        session,
        account,
        wtsId: id,
        alive: true,
        client,
        streamer: streamerProcess,
        watching,
      });
      running.set(session, entry);
      logger.info("session started", {
        account,
        session: id,
        streamerPid: streamerProcess.pid,
        rdpClientPid: client.pid,
      });
      return session;
    },

    async endSession(session) {
      const entry = running.get(session);
      if (!entry) return;
      entry.watching.abort();
      entry.streamer.kill();
      try {
        await logoffOwned(entry.wtsId, entry.account);
      } finally {
        // Kept for a retry when the logoff failed: the id is checked again.
        await entry.client.stop();
      }
      await withTimeout(entry.streamer.wait(), logoffTimeoutMs).catch(() =>
        logger.warn("streamer still running after the logoff", {
          account: entry.account,
          pid: entry.streamer.pid,
        })
      );
      running.delete(session);
      logger.info("session ended", {
        account: entry.account,
        session: entry.wtsId,
      });
    },

    async endAccountProcesses(name) {
      validateAccountName(name);
      await logoffAll(name, "left from an earlier run");
    },

    async cleanAccount(name, hygiene: Hygiene) {
      validateAccountName(name);
      const { sid, sidString } = await api.accountSid(name);
      const cleanup = hygiene.profileCleanup;
      if (cleanup.skeleton !== "/etc/skel" && !skeletonWarned) {
        skeletonWarned = true;
        logger.warn(
          "profileCleanup.skeleton is not used on Windows: new profiles are " +
            "built from the Default profile",
        );
      }
      try {
        if (cleanup.enabled) await api.deleteProfile(sidString);
        else await api.restoreHive({ name, sidString }, HIVE_RESTORE);
      } catch (error) {
        throw new Error(
          `the profile of ${name} could not be ` +
            `${cleanup.enabled ? "deleted" : "restored"}: ` +
            (error as Error).message,
        );
      }
      const problems: string[] = [];
      for (const restriction of hygiene.filesystemRestrictions) {
        try {
          requireWindowsPath(restriction.path);
          await api.denyAccess(restriction.path, sid, {
            deny: restriction.deny,
            recursive: restriction.recursive,
          });
          const paths = restricted.get(name) ?? new Set();
          restricted.set(name, paths.add(restriction.path));
        } catch (error) {
          problems.push(`${restriction.path}: ${(error as Error).message}`);
        }
      }
      return problems;
    },

    listSessions(): Promise<SessionListing[]> {
      return Promise.resolve(
        [...running.values()].map(({ session, alive }) => ({
          id: session.id,
          account: session.account,
          alive,
        })),
      );
    },

    async verifyStreamerPeer(name, peer) {
      try {
        const pid = await api.tcpOwnerPid({
          hostname: peer.hostname,
          port: peer.port,
        });
        if (pid === undefined) return false;
        const id = await api.processSessionId(pid);
        // Session 0 is the services' session: never a pool account's.
        return id !== 0 &&
          (await sessionsOf(name)).some((s) => s.id === id);
      } catch (error) {
        // Refused: say why, or every streamer would be turned away silently.
        logger.warn("could not check a streamer's connection; refused", {
          account: name,
          error,
        });
        return false;
      }
    },
  };
}

/** States in which a slot's session no longer serves anyone. */
const ENDED_STATES: ReadonlySet<WtsSession["state"]> = new Set([
  "disconnected",
  "reset",
  "down",
]);

/** Windows user names compare case-insensitively. */
function sameUser(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** How many of the four character kinds Windows' complexity rule counts. */
function complexity(password: string): number {
  return [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/]
    .filter((kind) => kind.test(password)).length;
}

/**
 * A valid local account name: 1–20 characters, none of `"/\[]:;|=,+*?<>@`
 * or a control character, not ending in a period.
 *
 * @throws {Error} naming what is wrong.
 */
export function validateAccountName(name: string): void {
  if (!name || name.length > 20) {
    throw new Error(`account name "${name}" must have 1 to 20 characters`);
  }
  // deno-lint-ignore no-control-regex
  if (/["/\\[\]:;|=,+*?<>@\x00-\x1f]/.test(name) || name.endsWith(".")) {
    throw new Error(`account name "${name}" is not a valid Windows user name`);
  }
}

/**
 * Refuses anything but an absolute Windows path (`C:\…`, `\\server\share…`):
 * a relative one would be taken relative to the service's folder.
 */
function requireWindowsPath(path: string): void {
  if (path.includes("\0")) throw new Error("the path contains a NUL");
  if (!/^[A-Za-z]:[\\/]|^\\\\[^\\]/.test(path)) {
    throw new Error(
      "not an absolute Windows path (C:\\… or \\\\server\\share\\…)",
    );
  }
}

function lastWords(client: RdpProcess): string {
  const output = client.output().trim();
  return output
    ? `; its last output: ${output.split("\n").slice(-3).join(" | ")}`
    : "";
}

function defaultRuntimeDirectory(): string {
  let base = "C:\\ProgramData";
  try {
    base = Deno.env.get("ProgramData") ?? base;
  } catch {
    // No env permission: the documented default.
  }
  return `${base}\\webstream`;
}
