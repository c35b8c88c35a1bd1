/**
 * Test doubles for the pool's two collaborators, for unit tests of the pool
 * state machine and the HTTP layer on top of it: a platform that records
 * every call and session spec (sessions start at once and end on request)
 * and a streamer link
 * that records what the pool sends and acknowledges tokens. Integration tests
 * use the real Linux platform and real streamers instead.
 *
 * @module
 */
import type { ManagerMessage, StreamerLink } from "../../mod/control/mod.ts";
import type {
  Hygiene,
  Platform,
  PlatformSession,
  SessionListing,
  SessionSpec,
} from "../../mod/platform/mod.ts";
import type { SessionPool } from "../../mod/pool/mod.ts";

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
    const ended = Promise.withResolvers<string>();
    const session: FakeSession = {
      slot: spec.slot,
      account: spec.account,
      id: `:${spec.slot}`,
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

/** Plays a streamer: records what the pool sends, acknowledges tokens. */
export class FakeStreamer implements StreamerLink {
  readonly received: ManagerMessage[] = [];
  closed?: string;
  ackTokens = true;
  constructor(readonly username: string, readonly pool: SessionPool) {}
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
