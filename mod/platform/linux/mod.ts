/**
 * The Linux platform: a session is an Xvfb display owned by a pool account,
 * with the streamer started in it "at logon" as that account. As root the
 * pool accounts are real users (`useradd`); otherwise every slot runs as the
 * current user with its own home under the runtime directory.
 *
 * A session outlives the processes that serve it ({@linkcode SessionRecovery}):
 * Xvfb, PulseAudio, the streamer and the apps each lead a process group of
 * their own, so neither a streamer's death nor the host's takes the session
 * with it; a dead streamer is replaced in the same session, and a later run
 * of the host adopts the session from its record (`session_record.ts`).
 * Every process of a session has the session's Xauthority file in its
 * `XAUTHORITY`, which is how the session's processes are found when it ends.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type {
  Adoption,
  Hygiene,
  Platform,
  PlatformSession,
  SessionListing,
  SessionRecovery,
  SessionSpec,
  StreamerProcess,
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
  endProcessesWithEnv,
  endUserProcesses,
  isRunning,
  type ProcessRef,
  processRef,
  stopGroupOf,
  stopProcessGroup,
  watchExit,
} from "./processes.ts";
import { parseSessionRecord, type SessionRecord } from "./session_record.ts";
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

/**
 * One process of a session: started by this run (`child`, whose exit status
 * is awaited) or adopted from an earlier run (watched through `/proc`).
 */
type SessionProcess =
  | { kind: "child"; ref: ProcessRef; child: Deno.ChildProcess }
  | { kind: "adopted"; ref: ProcessRef };

interface Running {
  session: PlatformSession;
  /** What a later run needs to adopt the session; kept current. */
  record: SessionRecord;
  alive: boolean;
  xvfb: SessionProcess;
  /** The session's sound server; none when PulseAudio is missing or failed. */
  audio?: SessionProcess;
  streamer: SessionProcess & StreamerProcess;
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

  /** The environment every process of a session starts with. */
  function sessionEnv(
    name: string,
    where: { home: string; sessionDir: string; authFile: string },
  ): Record<string, string> {
    return {
      HOME: where.home,
      USER: name,
      LOGNAME: name,
      SHELL: "/bin/bash",
      PATH: BASE_PATH,
      LANG: Deno.env.get("LANG") ?? "C.UTF-8",
      XDG_RUNTIME_DIR: where.sessionDir,
      XAUTHORITY: where.authFile,
    };
  }

  /** Starts `webstream streamer` in the session `record` describes. */
  function spawnStreamer(
    spec: SessionSpec,
    record: Omit<SessionRecord, "streamer">,
  ): Deno.ChildProcess {
    if (!streamerRuntime) throw new Error("platform not prepared");
    const { command, env } = streamerRuntime;
    return new Deno.Command(command.command, {
      args: [
        ...command.prefix,
        // A real pool user identifies by its OS user name; slots sharing
        // this process's user need their account named.
        ...streamerArgs(spec, {
          user: mode === "current" ? spec.account : undefined,
        }),
      ],
      cwd: record.home,
      env: {
        ...sessionEnv(spec.account, record),
        ...env,
        DISPLAY: record.display,
        ...(record.audio ? { PULSE_SERVER: record.audio.server } : {}),
        ...streamerEnv(spec),
      },
      clearEnv: true,
      // Its own process group: neither the host's end nor a terminal's
      // signals reach it, and stopping it never stops the apps.
      detached: true,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      ...(mode === "system" ? { uid: record.uid, gid: record.gid } : {}),
    }).spawn();
  }

  /** Stops one process of a session by its process group. */
  async function stopSessionProcess(
    process: SessionProcess,
    graceMs?: number,
  ): Promise<void> {
    if (process.kind === "child") {
      await stopProcessGroup(process.child, { graceMs });
    } else {
      await stopGroupOf(process.ref, { graceMs });
    }
  }

  /**
   * Ends whatever else the session ran: as real users, every process of
   * the uid; otherwise every process naming the session's Xauthority.
   */
  async function sweep(record: SessionRecord): Promise<void> {
    if (mode === "system") await endUserProcesses(record.uid);
    else await endProcessesWithEnv("XAUTHORITY", record.authFile);
  }

  function entryOf(session: PlatformSession): Running {
    const entry = running.get(session);
    if (!entry) throw new Error(`session ${session.id} is not running here`);
    return entry;
  }

  /** `record` checked against the account as it is now; a reason if not. */
  async function foreignRecord(
    record: SessionRecord,
    name: string,
  ): Promise<string | undefined> {
    const user = await account(name).catch(() => undefined);
    if (!user) return `pool account ${name} is missing`;
    if (user.uid !== record.uid) {
      return `the record names uid ${record.uid}, ${name} is uid ${user.uid}`;
    }
    if (record.sessionDir !== `${runtimeDir}/sessions/${name}`) {
      return `the record names another session folder (${record.sessionDir})`;
    }
    return undefined;
  }

  const recovery: SessionRecovery = {
    get stateDirectory() {
      return `${runtimeDir}/state`;
    },

    streamer(session) {
      return entryOf(session).streamer;
    },

    async restartStreamer(session, spec) {
      const entry = entryOf(session);
      if (!entry.alive) throw new Error(`display ${session.id} has exited`);
      await stopSessionProcess(entry.streamer);
      const child = spawnStreamer(spec, entry.record);
      const ref = await childRef(child);
      entry.record = { ...entry.record, streamer: ref };
      entry.streamer = childStreamer(child, ref);
      return entry.streamer;
    },

    describe(session) {
      return structuredClone(entryOf(session).record);
    },

    async adopt(raw, spec): Promise<Adoption> {
      const parsed = parseSessionRecord(raw);
      if (!parsed.ok) return { ok: false, reason: parsed.error };
      const record = parsed.record;
      const foreign = await foreignRecord(record, spec.account);
      if (foreign) return { ok: false, reason: foreign };
      if (!await isRunning(record.xvfb)) {
        return { ok: false, reason: `display ${record.display} has exited` };
      }
      // Polls that end once the process has (endSession kills them all).
      const watch = (ref: ProcessRef) => watchExit(ref);
      const streamerAlive = await isRunning(record.streamer);
      const audioAlive = record.audio !== null &&
        await isRunning(record.audio);
      const ended = watch(record.xvfb).then(() =>
        `display ${record.display} exited`
      );
      const session: PlatformSession = {
        slot: spec.slot,
        account: spec.account,
        id: record.display,
        ended,
      };
      const entry: Running = {
        session,
        // A sound server that died is not named to later streamers.
        record: audioAlive ? record : { ...record, audio: null },
        alive: true,
        xvfb: { kind: "adopted", ref: record.xvfb },
        audio: audioAlive && record.audio
          ? { kind: "adopted", ref: record.audio }
          : undefined,
        streamer: {
          kind: "adopted",
          ref: record.streamer,
          exited: streamerAlive
            ? watch(record.streamer).then(() => "streamer exited")
            : Promise.resolve("streamer was gone"),
        },
      };
      running.set(session, entry);
      ended.then(() => entry.alive = false);
      logger.info("adopted session", {
        account: spec.account,
        display: record.display,
        streamerAlive,
      });
      return { ok: true, session, streamerAlive };
    },

    async endRecorded(raw, name) {
      const parsed = parseSessionRecord(raw);
      if (!parsed.ok) {
        logger.warn("unreadable session record; ending by account only", {
          account: name,
          problem: parsed.error,
        });
        return;
      }
      const record = parsed.record;
      const foreign = await foreignRecord(record, name);
      if (foreign) {
        logger.warn("session record does not fit its account; not used", {
          account: name,
          problem: foreign,
        });
        return;
      }
      await stopGroupOf(record.streamer);
      if (record.audio) await stopGroupOf(record.audio, { graceMs: 1000 });
      await stopGroupOf(record.xvfb);
      await sweep(record);
    },
  };

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
      // Session records name processes root may signal: root's (or this
      // user's) alone.
      await Deno.mkdir(recovery.stateDirectory, {
        recursive: true,
        mode: 0o700,
      });
      await Deno.chmod(recovery.stateDirectory, 0o700);
      await requirePrivateFolder(recovery.stateDirectory);
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
      const baseEnv = sessionEnv(spec.account, {
        home: user.home,
        sessionDir,
        authFile,
      });
      const xvfb = await startXvfb({
        authFile,
        screen: spec.screen,
        env: baseEnv,
        ...ids,
      });
      const display = `:${xvfb.display}`;
      if (xvfb.sizeProblem) {
        logger.warn("the session keeps its largest screen size", {
          account: spec.account,
          reason: xvfb.sizeProblem,
        });
      }
      const audio = await startSound(sessionDir, baseEnv, ids);
      const started: ProcessRef[] = [];
      let streamer: Deno.ChildProcess;
      let record: SessionRecord;
      try {
        const xvfbRef = await childRef(xvfb.child);
        const audioRef = audio ? await childRef(audio.child) : undefined;
        started.push(xvfbRef, ...(audioRef ? [audioRef] : []));
        const partial = {
          version: 1 as const,
          display,
          sessionDir,
          authFile,
          home: user.home,
          uid: user.uid,
          gid: user.gid,
          xvfb: xvfbRef,
          audio: audioRef && audio
            ? { ...audioRef, server: audio.server }
            : null,
        };
        streamer = spawnStreamer(spec, partial);
        record = { ...partial, streamer: await childRef(streamer) };
      } catch (error) {
        await audio?.stop();
        await stopProcessGroup(xvfb.child);
        throw error;
      }
      const ended = xvfb.child.status.then((s) =>
        `display ${display} exited (${exitText(s)})`
      );
      const session: PlatformSession = {
        slot: spec.slot,
        account: spec.account,
        id: display,
        ended,
      };
      const entry: Running = {
        session,
        record,
        alive: true,
        xvfb: { kind: "child", ref: record.xvfb, child: xvfb.child },
        audio: audio && record.audio
          ? { kind: "child", ref: record.audio, child: audio.child }
          : undefined,
        streamer: childStreamer(streamer, record.streamer),
      };
      running.set(session, entry);
      ended.then(() => entry.alive = false);
      return session;
    },

    async endSession(session) {
      const entry = running.get(session);
      if (!entry) return;
      await stopSessionProcess(entry.streamer);
      if (entry.audio) await stopSessionProcess(entry.audio, 1000);
      await stopSessionProcess(entry.xvfb);
      await sweep(entry.record);
      running.delete(session);
    },

    async endAccountProcesses(name) {
      if (mode === "current") {
        // No uid to sweep: end what still names this slot's Xauthority.
        await endProcessesWithEnv(
          "XAUTHORITY",
          `${runtimeDir}/sessions/${name}/Xauthority`,
        );
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

    async verifyStreamerPeer(name, peer, options = {}) {
      const uid = await socketOwnerUid(peer, {
        serverPort: options.serverPort,
      });
      if (uid === undefined) return false;
      const user = await account(name).catch(() => undefined);
      return user !== undefined && uid === user.uid;
    },

    recovery,
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

/** The {@linkcode ProcessRef} of a child that has just started. */
async function childRef(child: Deno.ChildProcess): Promise<ProcessRef> {
  const ref = await processRef(child.pid);
  if (!ref) throw new Error(`process ${child.pid} exited at once`);
  return ref;
}

/** A streamer this run started. */
function childStreamer(
  child: Deno.ChildProcess,
  ref: ProcessRef,
): SessionProcess & StreamerProcess {
  return {
    kind: "child",
    ref,
    child,
    exited: child.status.then((s) => `streamer exited (${exitText(s)})`),
  };
}

function exitText(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}
