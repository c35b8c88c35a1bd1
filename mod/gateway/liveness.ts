/**
 * When a session is live, i.e. holds a licence: the one rule, for the
 * session map in memory and for the stores' SQL (the farm-wide count of a
 * claim, see claims.ts).
 *
 * A session is live at `now` when it was **seen** at or after
 * `now - licence.staleAfter`, where seen is the later of its streamer's last
 * licence check-in (`lastCheckinAt`, none counting as 0) and its last launch
 * or reconnect (`lastLaunchAt`). A session launched a moment ago is live
 * before its streamer first checks in; one whose streamer stays silent for
 * `staleAfter` is not, whoever placed it.
 *
 * The stores hold sessions as JSON documents, and when each was last seen
 * as a column computed from it; {@linkcode liveSessionSql} is this rule on
 * that column. In the
 * store, check-in times lag memory by the session map's batch (written every
 * `licence.checkinInterval`), so the store's view is at most that much older.
 *
 * @module
 */
import type { SessionRecord } from "./types.ts";

/** When `session` was last known to be in use (ms since the epoch). */
export function lastSeen(
  session: Pick<SessionRecord, "lastCheckinAt" | "lastLaunchAt">,
): number {
  return Math.max(session.lastCheckinAt ?? 0, session.lastLaunchAt);
}

/** The earliest last-seen time of a session live at `now` (ms). */
export function liveSince(now: number, staleAfterMs: number): number {
  return now - staleAfterMs;
}

/** True when `session` is live for the cut-off `since` ({@linkcode liveSince}). */
export function isLive(
  session: Pick<SessionRecord, "lastCheckinAt" | "lastLaunchAt">,
  since: number,
): boolean {
  return lastSeen(session) >= since;
}

/**
 * {@linkcode isLive} as a SQL condition on a stored session, with `since`
 * (the cut-off's parameter, e.g. `$since` or `$2::float8`) as the cut-off.
 * Both stores keep {@linkcode lastSeen} as a generated, indexed column
 * `last_seen` of their `sessions` table (SQLite: `max(coalesce(
 * json_extract(data, '$.lastCheckinAt'), 0), json_extract(data,
 * '$.lastLaunchAt'))`; PostgreSQL: the same with `greatest` and `->>`),
 * made by the schema step that added claims; a change to the rule is a new
 * schema step in each. The claims contract checks the stores against
 * {@linkcode isLive} (tests/support/store_contract.ts).
 */
export function liveSessionSql(since: string): string {
  return `last_seen >= ${since}`;
}

/**
 * The negation of {@linkcode liveSessionSql} (`last_seen` is never null), in
 * a form the `last_seen` index answers: the sessions not live, which the
 * gateways forget soon, so few.
 */
export function staleSessionSql(since: string): string {
  return `last_seen < ${since}`;
}
