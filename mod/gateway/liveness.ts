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
 * The stores hold sessions as JSON documents; {@linkcode liveSessionSql}
 * is this rule on those documents, with the cut-off as a parameter. In the
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
 * {@linkcode isLive} as a SQL condition on a session row's JSON `data`, in
 * a store's dialect, with `since` (the cut-off's parameter or expression,
 * e.g. `$since` or `$2::float8`) as the cut-off.
 */
export function liveSessionSql(
  dialect: "sqlite" | "postgres",
  since: string,
): string {
  return dialect === "sqlite"
    ? "max(coalesce(json_extract(data, '$.lastCheckinAt'), 0), " +
      `json_extract(data, '$.lastLaunchAt')) >= ${since}`
    : "greatest(coalesce((data->>'lastCheckinAt')::float8, 0), " +
      `(data->>'lastLaunchAt')::float8) >= ${since}`;
}
