/**
 * A starting gateway's wait for its restored hosts' first probes: the bound
 * is `healthCheck.timeout` and the margin; with no host to wait for it
 * returns at once and logs nothing; it ends when the probes are in,
 * counting the hosts heard from (those the registry no longer lists as
 * unheard) and logging both ends; when the probes never come it ends at the
 * bound, the hosts not heard from counted so.
 *
 * @module
 */
import {
  awaitFirstProbes,
  FIRST_PROBES_MARGIN_MS,
  firstProbesWaitMs,
} from "../../mod/gateway/first_probes.ts";
import { assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";

const HOSTS = [
  "http://a.test:8080",
  "http://b.test:8080",
  "http://c.test:8080",
];

/** A registry that lists `still` as unheard. */
function registryWith(still: string[]) {
  return { unheard: () => [...still] };
}

Deno.test("the bound is the probe timeout and a margin", () => {
  assertEquals(
    firstProbesWaitMs({ timeout: 6 }),
    6000 + FIRST_PROBES_MARGIN_MS,
  );
  assertEquals(
    firstProbesWaitMs({ timeout: 0.5 }),
    500 + FIRST_PROBES_MARGIN_MS,
  );
});

Deno.test("no host to wait for: at once, nothing logged", async () => {
  const { logger, records } = captureLogs("debug");
  const outcome = await awaitFirstProbes(registryWith([]), {
    hosts: [],
    probed: new Promise(() => {}),
    boundMs: 60_000,
    logger,
  });
  assertEquals(outcome, { hosts: 0, heard: 0, complete: true });
  assertEquals(records, []);
});

Deno.test("ends when the probes are in, counting the hosts heard from", async () => {
  const { logger, records } = captureLogs("debug");
  const outcome = await awaitFirstProbes(registryWith([HOSTS[2]]), {
    hosts: HOSTS,
    probed: Promise.resolve(),
    boundMs: 60_000,
    logger,
  });
  assertEquals(outcome, { hosts: 3, heard: 2, complete: true });
  assertEquals(records.map((r) => r.msg), [
    "waiting for restored hosts' first probes",
    "restored hosts probed",
  ]);
  assertEquals(records[0].hosts, 3);
  assertEquals(records[0].boundMs, 60_000);
  const { hosts, heard, notHeard, complete } = records[1];
  assertEquals({ hosts, heard, notHeard, complete }, {
    hosts: 3,
    heard: 2,
    notHeard: 1,
    complete: true,
  });
});

Deno.test("probes that never come: ends at the bound, nobody heard from", async () => {
  const { logger, records } = captureLogs("debug");
  const outcome = await awaitFirstProbes(registryWith(HOSTS), {
    hosts: HOSTS,
    probed: new Promise(() => {}),
    boundMs: 20,
    logger,
  });
  assertEquals(outcome, { hosts: 3, heard: 0, complete: false });
  assertEquals(records.at(-1)?.complete, false);
  assertEquals(records.at(-1)?.notHeard, 3);
});
