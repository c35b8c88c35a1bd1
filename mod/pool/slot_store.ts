/**
 * What the pool keeps on disk about each slot's session, so that a host that
 * crashed or was restarted can take its sessions back: the session's UUID,
 * the gateway session bound to it and the apps launched in it, plus the
 * platform's own record of the session's processes (display, process
 * groups; see `SessionRecovery.describe`).
 *
 * One JSON file per slot (`slot-NN.json`) in the platform's state folder,
 * which only the host's user can read or write: the records name processes
 * the host may signal. Files are replaced atomically (written beside, then
 * renamed), and what is read back is validated; a file that does not
 * validate is reported, never trusted.
 *
 * @module
 */
import { z } from "zod";
import type { Logger } from "../log/mod.ts";
import { formatIssues } from "../util/zod_issues.ts";

/** The gateway session a pool session is bound to, as persisted. */
const bindingSchema = z.object({
  /** `X-Session-ID`. */
  sessionId: z.string().min(1).max(128),
  /** App command lines started in the session. */
  launched: z.array(z.string().max(65_536)).max(1000),
  /** Each app's command line by its id (records before it had none). */
  apps: z.record(z.string().max(128), z.string().max(65_536)).default({}),
  /**
   * Whether the session ends with its last app; records of earlier
   * versions lack it and are never ended that way.
   */
  endsWithApps: z.boolean().default(false),
}).strict();

/** One slot's record (version 1). */
export const slotRecordSchema = z.object({
  version: z.literal(1),
  slot: z.number().int().min(1).max(99),
  account: z.string().min(1).max(64),
  sessionUuid: z.uuid(),
  /** The gateway session, once bound; null for a warm session. */
  binding: bindingSchema.nullable(),
  /** The platform's record of the session (validated by the platform). */
  platform: z.unknown(),
}).strict();

/** One slot's record. */
export type SlotRecord = z.infer<typeof slotRecordSchema>;

/** What reading a slot's record found. */
export type SlotRead =
  | { kind: "none" }
  | { kind: "record"; record: SlotRecord }
  | { kind: "invalid"; problem: string };

/** The slot records of one host. */
export class SlotStore {
  readonly #directory: string;
  readonly #logger: Logger;
  /** Per slot, the last write or removal: each waits for the one before. */
  readonly #queues = new Map<number, Promise<void>>();

  /** Records live in `directory` (which must exist and be private). */
  constructor(directory: string, logger: Logger) {
    this.#directory = directory;
    this.#logger = logger;
  }

  /** The file of slot `slot`. */
  path(slot: number): string {
    return `${this.#directory}/slot-${String(slot).padStart(2, "0")}.json`;
  }

  /** Reads slot `slot`'s record. */
  async read(slot: number): Promise<SlotRead> {
    await this.#queues.get(slot);
    let text: string;
    try {
      text = await Deno.readTextFile(this.path(slot));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "none" };
      return { kind: "invalid", problem: (error as Error).message };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { kind: "invalid", problem: (error as Error).message };
    }
    const parsed = slotRecordSchema.safeParse(value);
    if (!parsed.success) {
      return {
        kind: "invalid",
        problem: formatIssues(parsed.error.issues, value).join("; "),
      };
    }
    if (parsed.data.slot !== slot) {
      return {
        kind: "invalid",
        problem: `slot: expected ${slot}, got ${parsed.data.slot}`,
      };
    }
    return { kind: "record", record: parsed.data };
  }

  /**
   * Replaces slot `record.slot`'s record. A failure (a full disk, say) is
   * logged, not thrown: the session goes on, it only could not be taken
   * back after a crash.
   */
  write(record: SlotRecord): Promise<void> {
    return this.#queue(record.slot, async () => {
      const path = this.path(record.slot);
      const temporary = `${path}.tmp`;
      await Deno.writeTextFile(temporary, JSON.stringify(record), {
        mode: 0o600,
      });
      await Deno.rename(temporary, path);
    }, "writing");
  }

  /** Removes slot `slot`'s record (the session ended). */
  remove(slot: number): Promise<void> {
    return this.#queue(slot, async () => {
      await Deno.remove(this.path(slot)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }, "removing");
  }

  #queue(
    slot: number,
    task: () => Promise<void>,
    what: string,
  ): Promise<void> {
    const previous = this.#queues.get(slot) ?? Promise.resolve();
    const next = previous.then(task).catch((error) =>
      this.#logger.error(`${what} the slot record failed`, {
        slot,
        path: this.path(slot),
        error,
      })
    );
    this.#queues.set(slot, next);
    return next;
  }
}
