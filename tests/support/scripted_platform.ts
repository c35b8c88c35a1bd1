/**
 * Test doubles for the pool's two collaborators, for unit tests of the pool
 * state machine and the HTTP layer on top of it: a platform that records
 * every call and session spec (sessions start at once and end on request),
 * the same with session recovery (streamer processes the test ends,
 * restarts, records a later pool adopts from), and a streamer link that
 * records what the pool sends and acknowledges tokens. Integration tests use
 * the real Linux platform and real streamers instead.
 *
 * @module
 */
import type {
  ManagerMessage,
  StreamerDirectory,
  StreamerLink,
} from "../../mod/control/mod.ts";
import type {
  Adoption,
  Hygiene,
  Platform,
  PlatformSession,
  SessionListing,
  SessionRecovery,
  SessionSpec,
  StreamerProcess,
} from "../../mod/platform/mod.ts";

/** A session the test can end. */
export interface FakeSession extends PlatformSession {
  end(reason: string): void;
}

/** A platform that records calls; sessions start at once and end on request. */
export class ScriptedPlatform implements Platform {
  readonly name = "scripted";
  readonly accountMode = "current" as const;
  readonly capabilities = ["scripted"];
  readonly calls: string[] = [];
  readonly sessions: FakeSession[] = [];
  /** Every session spec asked for, in order (recorded on the call). */
  readonly specs: SessionSpec[] = [];
  failCleanups = 0;
  startDelay = Promise.resolve();

  prepare(): Promise<void> {
    this.calls.push("prepare");
    return Promise.resolve();
  }
  ensureAccount(account: string, password: string): Promise<void> {
    if (password.length < 8) throw new Error("password too short");
    this.calls.push(`ensure ${account}`);
    return Promise.resolve();
  }
  rotatePassword(account: string): Promise<void> {
    this.calls.push(`rotate ${account}`);
    return Promise.resolve();
  }
  removeAccount(account: string): Promise<void> {
    this.calls.push(`remove ${account}`);
    return Promise.resolve();
  }
  async startSession(spec: SessionSpec): Promise<PlatformSession> {
    this.specs.push(spec);
    await this.startDelay;
    this.calls.push(`start ${spec.account} ${spec.streamerPort}`);
    return this.fakeSession(spec, `:${spec.slot}`);
  }
  /** A new session of `spec`'s slot on display `id`, ended on request. */
  protected fakeSession(spec: SessionSpec, id: string): FakeSession {
    const ended = Promise.withResolvers<string>();
    const session: FakeSession = {
      slot: spec.slot,
      account: spec.account,
      id,
      ended: ended.promise,
      end: (reason) => ended.resolve(reason),
    };
    this.sessions.push(session);
    return session;
  }
  endSession(session: PlatformSession): Promise<void> {
    this.calls.push(`end ${session.account}`);
    (session as FakeSession).end("ended by the pool");
    return Promise.resolve();
  }
  endAccountProcesses(account: string): Promise<void> {
    this.calls.push(`sweep ${account}`);
    return Promise.resolve();
  }
  cleanAccount(account: string, hygiene: Hygiene): Promise<string[]> {
    this.calls.push(`clean ${account}`);
    if (this.failCleanups > 0) {
      this.failCleanups--;
      return Promise.reject(new Error("disk full"));
    }
    return Promise.resolve(
      hygiene.filesystemRestrictions.map((r) => `${r.path}: not applied`),
    );
  }
  listSessions(): Promise<SessionListing[]> {
    return Promise.resolve([]);
  }
  verifyStreamerPeer(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

/** A streamer process the test ends. */
export interface FakeStreamerProcess extends StreamerProcess {
  /** Ends it with `reason`. */
  exit(reason: string): void;
}

function fakeProcess(): FakeStreamerProcess {
  const exited = Promise.withResolvers<string>();
  return { exited: exited.promise, exit: (reason) => exited.resolve(reason) };
}

/**
 * A {@linkcode ScriptedPlatform} that can restart streamers and adopt
 * sessions: a session's `ended` is its display's death only; its streamer
 * is a process the test ends; `describe` gives `{ display }` and `adopt`
 * succeeds for the displays in {@linkcode alive} (the others "have
 * exited").
 */
export class RecoveringPlatform extends ScriptedPlatform {
  /** Each session's current streamer process. */
  readonly processes = new Map<PlatformSession, FakeStreamerProcess>();
  /** Displays an adoption finds running, with whether their streamer runs. */
  readonly alive = new Map<string, { streamerAlive: boolean }>();
  /** Restarts that throw before one succeeds. */
  failRestarts = 0;
  readonly recovery: SessionRecovery;

  constructor(stateDirectory: string) {
    super();
    const sessions = this.processes;
    this.recovery = {
      stateDirectory,
      streamer: (session) => sessions.get(session)!,
      restartStreamer: (session, spec) => {
        this.calls.push(`restart ${spec.account}`);
        this.specs.push(spec);
        if (this.failRestarts > 0) {
          this.failRestarts--;
          return Promise.reject(new Error("cannot start the streamer"));
        }
        const process = fakeProcess();
        sessions.set(session, process);
        return Promise.resolve(process);
      },
      describe: (session) => ({ display: session.id }),
      adopt: (record, spec): Promise<Adoption> => {
        const display = (record as { display: string }).display;
        this.calls.push(`adopt ${spec.account} ${display}`);
        const found = this.alive.get(display);
        if (!found) {
          return Promise.resolve({
            ok: false,
            reason: `display ${display} has exited`,
          });
        }
        const session = this.fakeSession(spec, display);
        const process = fakeProcess();
        if (!found.streamerAlive) process.exit("streamer was gone");
        sessions.set(session, process);
        return Promise.resolve({
          ok: true,
          session,
          streamerAlive: found.streamerAlive,
        });
      },
      endRecorded: (record, account) => {
        this.calls.push(
          `end recorded ${account} ${(record as { display?: string }).display}`,
        );
        return Promise.resolve();
      },
    };
  }

  override async startSession(spec: SessionSpec): Promise<PlatformSession> {
    const session = await super.startSession(spec);
    this.processes.set(session, fakeProcess());
    return session;
  }

  /** The current streamer process of slot `slot`'s latest session. */
  streamerOf(slot: number): FakeStreamerProcess {
    const session = [...this.processes.keys()].findLast((s) => s.slot === slot);
    if (!session) throw new Error(`no session in slot ${slot}`);
    return this.processes.get(session)!;
  }
}

/** Plays a streamer: records what the pool sends, acknowledges tokens. */
export class FakeStreamer implements StreamerLink {
  readonly received: ManagerMessage[] = [];
  closed?: string;
  ackTokens = true;
  /** Set for a streamer reconnecting with `RESUME_SESSION`. */
  readonly resumes?: string;
  constructor(
    readonly username: string,
    readonly pool: StreamerDirectory,
    resumes?: string,
  ) {
    if (resumes) this.resumes = resumes;
  }
  send(message: ManagerMessage): boolean {
    if (this.closed) return false;
    this.received.push(message);
    if (message.type === "CONNECTION_TOKEN" && this.ackTokens) {
      queueMicrotask(() =>
        this.pool.message(this, {
          type: "TOKEN_ARMED",
          tokenHash: message.tokenHash,
        })
      );
    }
    return true;
  }
  close(reason: string): void {
    this.closed ??= reason;
  }
}
