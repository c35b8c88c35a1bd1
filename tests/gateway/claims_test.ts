/**
 * The verdict on a claim from the store's counts: the licence first (none
 * when 0), then the host's capacity, then its logon cap, each refusal with
 * its limit, value and count; the messages name the limit (the licence's is
 * the one a 429 has always had); a claim lives a little over the host
 * call's timeout.
 *
 * @module
 */
import {
  CLAIM_MARGIN_MS,
  claimLifetimeMs,
  claimVerdict,
  licenceMessage,
  refusalMessage,
} from "../../mod/gateway/claims.ts";
import { assertEquals } from "../support/assert.ts";

const serverUrl = "http://h1.test:9005";
const limits = { licence: 5, hostCapacity: 3, logonCap: 2 };

Deno.test("a claim within every limit is granted", () => {
  assertEquals(
    claimVerdict({ serverUrl, limits }, { farm: 4, host: 2, logons: 1 }),
    { kind: "granted" },
  );
  // No licence limit: any farm count.
  assertEquals(
    claimVerdict(
      { serverUrl, limits: { ...limits, licence: 0 } },
      { farm: 10_000, host: 0, logons: 0 },
    ),
    { kind: "granted" },
  );
});

Deno.test("the first limit reached refuses: licence, capacity, logons", () => {
  assertEquals(
    claimVerdict({ serverUrl, limits }, { farm: 5, host: 3, logons: 2 }),
    { kind: "refused", limit: "licence", value: 5, count: 5 },
  );
  assertEquals(
    claimVerdict({ serverUrl, limits }, { farm: 4, host: 3, logons: 2 }),
    {
      kind: "refused",
      limit: "hostCapacity",
      serverUrl,
      value: 3,
      count: 3,
    },
  );
  assertEquals(
    claimVerdict({ serverUrl, limits }, { farm: 4, host: 2, logons: 2 }),
    { kind: "refused", limit: "logonCap", serverUrl, value: 2, count: 2 },
  );
});

Deno.test("refusals name the limit", () => {
  assertEquals(
    refusalMessage({ limit: "licence", value: 5, count: 5 }),
    "the licence allows 5 concurrent sessions and all are in use; try again later",
  );
  assertEquals(
    licenceMessage(5),
    refusalMessage({
      limit: "licence",
      value: 5,
      count: 7,
    }),
  );
  assertEquals(
    refusalMessage({ limit: "hostCapacity", serverUrl, value: 3, count: 3 }),
    "http://h1.test:9005 is full across the farm: 3/3 sessions",
  );
  assertEquals(
    refusalMessage({ limit: "logonCap", serverUrl, value: 2, count: 2 }),
    "http://h1.test:9005 has 2 logons in progress across the farm (cap 2)",
  );
});

Deno.test("a claim outlives the host call's timeout by a margin", () => {
  assertEquals(claimLifetimeMs(45_000), 45_000 + CLAIM_MARGIN_MS);
});
