/**
 * The live-session rule: seen is the later of the last check-in (none
 * counting as 0) and the last launch; live when seen is at or after the
 * cut-off `now - staleAfter`. The stores' SQL form is checked against it in
 * the claims contract (tests/support/store_contract.ts).
 *
 * @module
 */
import {
  isLive,
  lastSeen,
  liveSessionSql,
  liveSince,
} from "../../mod/gateway/liveness.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("a session is seen at the later of its check-in and its launch", () => {
  assertEquals(lastSeen({ lastLaunchAt: 100 }), 100);
  assertEquals(lastSeen({ lastLaunchAt: 100, lastCheckinAt: 250 }), 250);
  assertEquals(lastSeen({ lastLaunchAt: 300, lastCheckinAt: 250 }), 300);
});

Deno.test("live: seen at or after now - staleAfter", () => {
  const since = liveSince(100_000, 45_000);
  assertEquals(since, 55_000);
  assert(isLive({ lastLaunchAt: 55_000 }, since));
  assert(!isLive({ lastLaunchAt: 54_999 }, since));
  assert(isLive({ lastLaunchAt: 1, lastCheckinAt: 60_000 }, since));
  assert(!isLive({ lastLaunchAt: 1, lastCheckinAt: 54_999 }, since));
});

Deno.test("the SQL form is on the stores' last_seen column", () => {
  assertEquals(liveSessionSql("$since"), "last_seen >= $since");
  assertEquals(liveSessionSql("$2::float8"), "last_seen >= $2::float8");
});
