/**
 * Change notices of a store shared by several gateways: when a host, a
 * session or a revocation changes in the store, every other gateway on it is
 * told, so its memory (registry, session map, revocations) follows. On
 * PostgreSQL a trigger on each table sends them with `pg_notify` on
 * {@linkcode CHANGE_CHANNEL} (store_postgres.ts); this module is their one
 * home: the notice as a discriminated union, parsed at the edge, and the
 * typed way a store offers them ({@linkcode changesOf}). A store for one
 * gateway (SQLite) offers none.
 *
 * Each notice names the gateway that wrote the change (`origin`, the
 * `Gateway.id`; empty for a tool such as `webstream store migrate`), so a
 * gateway skips its own. A row is carried when the notice fits under
 * PostgreSQL's 8000-byte limit, else the receiver reads it. Check-ins are
 * not sent one notice per session: a gateway writes its check-in times in
 * batches, and each batch becomes notices of up to
 * {@linkcode CHECKINS_PER_NOTICE} `[sessionId, lastCheckinAt]` pairs.
 *
 * @module
 */
import { z } from "zod";
import type { AsyncGatewayStore, Revocation } from "./store.ts";
import type { HostRecord, SessionRecord } from "./types.ts";

/** The PostgreSQL notification channel of change notices. */
export const CHANGE_CHANNEL = "webstream_changes";

/** Check-ins carried by one `checkins` notice at most. */
export const CHECKINS_PER_NOTICE = 100;

/**
 * A stored record inside a notice. It is the store's own JSON, written by a
 * gateway (as `loadHosts` reads it): checked to be an object here, trusted
 * in its fields.
 */
function storedRow<T>() {
  return z.custom<T>(
    (value) =>
      typeof value === "object" && value !== null && !Array.isArray(value),
    { message: "expected the stored record (an object)" },
  );
}

const origin = z.string();
const op = z.enum(["put", "delete"]);

const revocationRow = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("signin"),
    id: z.string(),
    expiresAt: z.number(),
  }),
  z.object({
    kind: z.literal("user"),
    user: z.string(),
    before: z.number(),
    expiresAt: z.number(),
  }),
]);

/** A change notice's schema (see {@linkcode StoreChange}). */
export const storeChangeSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("host"),
    op,
    /** The host's `serverUrl`. */
    key: z.string().min(1),
    origin,
    row: storedRow<HostRecord>().optional(),
  }),
  z.object({
    kind: z.literal("session"),
    op,
    /** The session's `sessionId`. */
    key: z.string().min(1),
    /** Its `sessionUuid`, to read a row too large for the notice. */
    uuid: z.string().optional(),
    origin,
    row: storedRow<SessionRecord>().optional(),
  }),
  z.object({
    kind: z.literal("checkins"),
    origin,
    /** `[sessionId, lastCheckinAt]` of sessions whose check-in was written. */
    checkins: z.array(z.tuple([z.string(), z.number()]))
      .max(CHECKINS_PER_NOTICE),
  }),
  z.object({
    kind: z.literal("revocation"),
    op: z.literal("put"),
    key: z.string().min(1),
    origin,
    row: revocationRow,
  }),
]);

/**
 * One change notice: a host or session stored (`put`, with its row unless
 * too large) or forgotten (`delete`), check-in times written, or a sign-in
 * revoked. Forgotten revocations are not told (each gateway prunes its own).
 */
export type StoreChange = z.infer<typeof storeChangeSchema>;

/** A notice that could not be parsed. */
export class StoreChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreChangeError";
  }
}

/**
 * Parses a notice's payload.
 *
 * @throws {StoreChangeError} naming what was wrong: not JSON, or which field
 * does not match.
 */
export function parseStoreChange(payload: string): StoreChange {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new StoreChangeError(
      `a change notice is not JSON: ${payload.slice(0, 80)}`,
    );
  }
  const parsed = storeChangeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoreChangeError(
      `a change notice is invalid at ${
        issue.path.join(".") || "(root)"
      }: ${issue.message}`,
    );
  }
  return parsed.data;
}

// The schema's revocation row is the store's Revocation (checked here).
const _sameRevocation: Revocation = {} as z.infer<typeof revocationRow>;

/** What a gateway does with the notices of its store. */
export interface StoreChangeHandlers {
  /** A change written by another gateway. */
  change(notice: StoreChange): void;
  /**
   * The listener connected; `resumed` after it had lost its connection
   * (notices sent meanwhile are lost: read the store again).
   */
  connected(resumed: boolean): void;
  /** A notice that could not be parsed (skipped). */
  invalid(error: StoreChangeError): void;
}

/** A running listener. */
export interface StoreChangeSubscription {
  /** Stops listening. */
  stop(): Promise<void>;
}

/** The change notices a shared store offers. */
export interface StoreChanges {
  /** The id this store's own writes are told with (the gateway's id). */
  readonly origin: string;
  /**
   * Starts listening (resolves once listening); reconnects by itself when
   * the connection is lost. Notices of this store's own writes are skipped.
   */
  listen(handlers: StoreChangeHandlers): Promise<StoreChangeSubscription>;
}

/** A store shared by several gateways: it tells changes. */
export interface SharedStore extends AsyncGatewayStore {
  /** Its change notices. */
  changes: StoreChanges;
}

/** The store's change notices, when it offers them (PostgreSQL does). */
export function changesOf(store: AsyncGatewayStore): StoreChanges | undefined {
  return "changes" in store ? (store as SharedStore).changes : undefined;
}
