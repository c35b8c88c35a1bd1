/**
 * The Linux platform: a session is an Xvfb display owned by a pool account,
 * with the streamer started in it "at logon" as that account. As root the
 * pool accounts are real users (`useradd`); otherwise every slot runs as the
 * current user with its own home under the runtime directory.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type {
  Hygiene,
  Platform,
  PlatformSession,
  SessionListing,
  SessionSpec,
} from "../types.ts";
import { streamerArgs, streamerEnv } from "../streamer_command.ts";
import {
  createPoolUser,
  deleteUser,
  lookupUser,
  POOL_GECOS,
  removeScheduledJobs,
  setPassword,
  type UserEntry,
} from "./accounts.ts";
import { hasCommand } from "./exec.ts";
import { applyRestrictions, purgeTemp, rebuildHome } from "./hygiene.ts";
import { socketOwnerUid } from "./peer_uid.ts";
import { type PulseAudioServer, startPulseAudio } from "./pulse_audio.ts";
import {
  endUserProcesses,
  signalGroup,
  stopProcessGroup,
} from "./processes.ts";
import {
  prepareStreamerRuntime,
  type StreamerRuntime,
} from "./streamer_runtime.ts";
import { encodeXauthority, newCookie } from "./xauth.ts";
import { startXvfb } from "./xvfb.ts";

/** Options for {@linkcode createLinuxPlatform}. */
export interface LinuxPlatformOptions {
  /** `auto` picks real users when running as root. */
  accountMode: "auto" | "system" | "current";
  /** Where per-session state lives. Default `/var/lib/webstream` as root, else under `/tmp`. */
  runtimeDirectory?: string;
  /** Shared Deno cache for pool users under `deno run`. */
  denoDirectory?: string;
  /** Logger. */
  logger: Logger;
}

interface Running {
  session: PlatformSession;
  alive: boolean;
  xvfb: Deno.ChildProcess;
  streamer: Deno.ChildProcess;
  /** The session's sound server; none when PulseAudio is missing or failed. */
  audio?: PulseAudioServer;
  uid: number;
}

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const BASE_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The Debian package of each command the platform needs. */
const PACKAGES: Record<string, string> = {
  Xvfb: "xvfb",
  setfacl: "acl",
  useradd: "passwd",
  userdel: "passwd",
  chpasswd: "passwd",
  getent: "libc-bin",
};

/** Creates the Linux platform. Nothing touches the OS until `prepare()`. */
export function createLinuxPlatform(options: LinuxPlatformOptions): Platform {
  const root = Deno.uid() === 0;
  const mode = options.accountMode === "auto"
    ? (root ? "system" : "current")
    : options.accountMode;
  const runtimeDir = options.runtimeDirectory ?? defaultRuntimeDirectory(root);
  const denoDir = options.denoDirectory ?? "/var/cache/webstream/deno";
  const logger = options.logger;
  const running = new Map<PlatformSession, Running>();
  const accounts = new Map<string, Account>();
  let streamerRuntime: StreamerRuntime | undefined;
  let soundInstalled = false;
  // useradd/userdel/chpasswd lock /etc/passwd; run them one at a time.
  let accountQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(task: () => Promise<T>): Promise<T> => {
    const result = accountQueue.then(task);
    accountQueue = result.catch(() => {});
    return result;
  };

  async function account(name: string): Promise<Account> {
    const known = accounts.get(name);
    if (known) return known;
    let entry: Account;
    if (mode === "system") {
      const user = await lookupUser(name);
      if (!user) throw new Error(`pool account ${name} does not exist`);
      entry = user;
    } else {
      entry = {
        name,
        uid: Deno.uid()!,
        gid: Deno.gid()!,
        home: `${runtimeDir}/homes/${name}`,
      };
    }
    accounts.set(name, entry);
    return entry;
  }

  function adopt(user: UserEntry): void {
    if (user.gecos !== POOL_GECOS) {
      throw new Error(
        `user ${user.name} exists and is not a webstream pool account ` +
          `(GECOS "${user.gecos}"); choose another serverSessionUsername`,
      );
    }
  }

  async function requireCommands(commands: string[]): Promise<void> {
    for (const command of commands) {
      if (!await hasCommand(command)) {
        throw new Error(
          `${command} is not installed (needed by the Linux platform; ` +
            `Debian package ${PACKAGES[command] ?? command})`,
        );
      }
    }
  }

  /** The session's PulseAudio, or none (no sound, logged) if it fails. */
  async function startSound(
    sessionDir: string,
    env: Record<string, string>,
    ids: { uid?: number; gid?: number },
  ): Promise<PulseAudioServer | undefined> {
    if (!soundInstalled) return undefined;
    try {
      // `$XDG_RUNTIME_DIR/pulse/native`: where PulseAudio clients look anyway.
      return await startPulseAudio({
        directory: `${sessionDir}/pulse`,
        env,
        ...ids,
      });
    } catch (error) {
      logger.warn("session has no sound: PulseAudio did not start", {
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  return {
    name: "linux",
    accountMode: mode,
    capabilities: ["linux", "xvfb", "desktop", "apps"],

    async prepare() {
      if (mode === "system" && !root) {
        throw new Error(
          "webstreamSettings.poolAccounts is system, which needs root",
        );
      }
      await requireCommands(
        mode === "system"
          ? ["Xvfb", "useradd", "userdel", "chpasswd", "getent", "setfacl"]
          : ["Xvfb"],
      );
      await Deno.mkdir(`${runtimeDir}/sessions`, {
        recursive: true,
        mode: mode === "system" ? 0o755 : 0o700,
      });
      await requirePrivateFolder(runtimeDir);
      if (mode === "system") {
        await Deno.chmod(runtimeDir, 0o755);
        await Deno.mkdir("/tmp/.X11-unix", { recursive: true });
        await Deno.chmod("/tmp/.X11-unix", 0o1777);
      }
      soundInstalled = await hasCommand("pulseaudio");
      if (!soundInstalled) {
        logger.warn(
          "pulseaudio is not installed (Debian package pulseaudio): " +
            "sessions have no sound",
        );
      }
      streamerRuntime = await prepareStreamerRuntime({
        otherUsers: mode === "system",
        stageDirectory: `${runtimeDir}/streamer-src`,
        denoDirectory: denoDir,
        logger,
      });
    },

    ensureAccount(name, password) {
      if (mode === "current") {
        return Deno.mkdir(`${runtimeDir}/homes/${name}`, {
          recursive: true,
          mode: 0o700,
        });
      }
      return serially(async () => {
        const existing = await lookupUser(name);
        if (existing) {
          adopt(existing);
          await setPassword(name, password);
        } else {
          await createPoolUser(name, password, { skeleton: "/etc/skel" });
          logger.info("created pool account", { account: name });
        }
        accounts.delete(name);
      });
    },

    async rotatePassword(name, password) {
      if (mode === "current") return;
      await serially(() => setPassword(name, password));
    },

    async removeAccount(name) {
      if (mode === "current") {
        await Deno.remove(`${runtimeDir}/homes/${name}`, { recursive: true })
          .catch(() => {});
        return;
      }
      const user = await lookupUser(name);
      if (!user) return;
      adopt(user);
      await endUserProcesses(user.uid);
      await removeScheduledJobs(name);
      await serially(() => deleteUser(name));
      accounts.delete(name);
      await Deno.remove(`${runtimeDir}/sessions/${name}`, { recursive: true })
        .catch(() => {});
    },

    async startSession(spec: SessionSpec) {
      if (!streamerRuntime) throw new Error("platform not prepared");
      const user = await account(spec.account);
      const ids = mode === "system" ? { uid: user.uid, gid: user.gid } : {};
      const sessionDir = `${runtimeDir}/sessions/${spec.account}`;
      await Deno.remove(sessionDir, { recursive: true }).catch(() => {});
      await Deno.mkdir(sessionDir, { recursive: true, mode: 0o700 });
      const authFile = `${sessionDir}/Xauthority`;
      await Deno.writeFile(
        authFile,
        encodeXauthority([{ cookie: newCookie() }]),
        {
          mode: 0o600,
        },
      );
      if (mode === "system") {
        // The file first: while the folder is still root's, nobody can swap
        // the file for a link that would make root chown something else.
        await Deno.chown(authFile, user.uid, user.gid);
        await Deno.chown(sessionDir, user.uid, user.gid);
      }
      await Deno.mkdir(user.home, { recursive: true, mode: 0o700 });
      const baseEnv = {
        HOME: user.home,
        USER: spec.account,
        LOGNAME: spec.account,
        SHELL: "/bin/bash",
        PATH: BASE_PATH,
        LANG: Deno.env.get("LANG") ?? "C.UTF-8",
        XDG_RUNTIME_DIR: sessionDir,
        XAUTHORITY: authFile,
      };
      const xvfb = await startXvfb({
        authFile,
        screen: spec.screen,
        env: baseEnv,
        ...ids,
      });
      const display = `:${xvfb.display}`;
      const audio = await startSound(sessionDir, baseEnv, ids);
      let streamer: Deno.ChildProcess;
      try {
        const { command, env } = streamerRuntime;
        streamer = new Deno.Command(command.command, {
          args: [
            ...command.prefix,
            // A real pool user identifies by its OS user name; slots sharing
            // this process's user need their account named.
            ...streamerArgs(spec, {
              user: mode === "current" ? spec.account : undefined,
            }),
          ],
          cwd: user.home,
          env: {
            ...baseEnv,
            ...env,
            DISPLAY: display,
            ...(audio ? { PULSE_SERVER: audio.server } : {}),
            ...streamerEnv(spec),
          },
          clearEnv: true,
          detached: true,
          stdin: "null",
          stdout: "inherit",
          stderr: "inherit",
          ...ids,
        }).spawn();
      } catch (error) {
        await audio?.stop();
        await stopProcessGroup(xvfb.child);
        throw error;
      }
      if (mode === "current") {
        // No uid to sweep after a crash: record what a later run must end.
        // (Never written as root: the folder belongs to the pool user then.)
        await Deno.writeTextFile(
          `${sessionDir}/pids`,
          [xvfb.child.pid, streamer.pid, audio?.pid]
            .filter((pid) => pid !== undefined).map((pid) => `${pid}\n`)
            .join(""),
        );
      }
      const ended = Promise.race([
        xvfb.child.status.then((s) =>
          `display ${display} exited (${exitText(s)})`
        ),
        streamer.status.then((s) => `streamer exited (${exitText(s)})`),
      ]);
      const session: PlatformSession = {
        slot: spec.slot,
        account: spec.account,
        id: display,
        ended,
      };
      const entry: Running = {
        session,
        alive: true,
        xvfb: xvfb.child,
        streamer,
        audio,
        uid: user.uid,
      };
      running.set(session, entry);
      ended.then(() => entry.alive = false);
      return session;
    },

    async endSession(session) {
      const entry = running.get(session);
      if (!entry) return;
      await stopProcessGroup(entry.streamer);
      await entry.audio?.stop();
      await stopProcessGroup(entry.xvfb);
      if (mode === "system") await endUserProcesses(entry.uid);
      running.delete(session);
    },

    async endAccountProcesses(name) {
      if (mode === "current") {
        // No uid to sweep: end what an earlier run recorded for this slot.
        const dir = `${runtimeDir}/sessions/${name}`;
        await endRecordedSession(dir, `${dir}/Xauthority`);
        return;
      }
      const user = await lookupUser(name);
      if (user) {
        adopt(user);
        await endUserProcesses(user.uid);
      }
    },

    async cleanAccount(name, hygiene: Hygiene) {
      const user = await account(name);
      const owner = mode === "system"
        ? { uid: user.uid, gid: user.gid }
        : undefined;
      if (mode === "system") await removeScheduledJobs(name);
      if (hygiene.profileCleanup.enabled) {
        await rebuildHome(user.home, hygiene.profileCleanup.skeleton, owner);
      }
      if (mode === "system" && hygiene.profileCleanup.purgeTemp) {
        await purgeTemp(user.uid);
      }
      if (!hygiene.filesystemRestrictions.length) return [];
      if (mode === "current") {
        return [
          "filesystemRestrictions need real pool accounts (run as root); not applied",
        ];
      }
      return await applyRestrictions(hygiene.filesystemRestrictions, user);
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
      const uid = await socketOwnerUid(peer);
      if (uid === undefined) return false;
      const user = await account(name).catch(() => undefined);
      return user !== undefined && uid === user.uid;
    },
  };
}

/** `/var/lib/webstream` as root; else `$XDG_RUNTIME_DIR/webstream` or `/tmp/webstream-<uid>`. */
function defaultRuntimeDirectory(root: boolean): string {
  if (root) return "/var/lib/webstream";
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  return xdg ? `${xdg}/webstream` : `/tmp/webstream-${Deno.uid()}`;
}

/**
 * Refuses a runtime folder someone else could tamper with: it must be a real
 * folder (not a link) owned by this user and writable by nobody else, or
 * another local user could swap cookie files or homes under webstream.
 */
async function requirePrivateFolder(path: string): Promise<void> {
  const info = await Deno.lstat(path);
  const problem = !info.isDirectory
    ? "is not a folder"
    : info.uid !== Deno.uid()
    ? `belongs to uid ${info.uid}, not ${Deno.uid()}`
    : (info.mode! & 0o022) !== 0
    ? `is writable by others (mode ${(info.mode! & 0o777).toString(8)})`
    : undefined;
  if (problem) {
    throw new Error(
      `runtime directory ${path} ${problem}; remove it or set ` +
        "webstreamSettings.runtimeDirectory",
    );
  }
}

/**
 * Ends the process groups listed in `sessionDir/pids` whose environment
 * still names this session's Xauthority file (a recycled PID never does).
 */
async function endRecordedSession(
  sessionDir: string,
  authFile: string,
): Promise<void> {
  let pids: number[];
  try {
    pids = (await Deno.readTextFile(`${sessionDir}/pids`)).split("\n")
      .filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
      if (environ.split("\0").includes(`XAUTHORITY=${authFile}`)) {
        signalGroup(pid, "SIGKILL");
      }
    } catch {
      // Gone already.
    }
  }
  await Deno.remove(`${sessionDir}/pids`).catch(() => {});
}

function exitText(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}
