/**
 * Tests for `mod/gateway/probe_leases.ts`: rendezvous hashing spreads hosts
 * evenly over gateways and, when a gateway leaves, moves only its hosts;
 * each rule of a round's plan (take as winner, keep one's own, mark a host
 * nobody held, take a lease nobody took for a lease, leave others' alone);
 * the lease is a probe interval and a half.
 *
 * @module
 */
import {
  leaseMsOf,
  type LeaseRow,
  type LeaseState,
  planLeases,
  rendezvousWinner,
} from "../../mod/gateway/probe_leases.ts";
import { assert, assertEquals } from "../support/assert.ts";

const hosts = Array.from(
  { length: 3000 },
  (_, i) => `http://10.0.${i >> 8}.${i & 255}:9005`,
);
// Gateway ids as `createGateway` makes them (fixed, so the test repeats).
const gateways = [
  "0f8e2d6c-5b1a-4c3e-9d7f-1a2b3c4d5e6f",
  "7c9d1e3f-2a4b-4d6c-8e0f-9a8b7c6d5e4f",
  "c3b2a190-8f7e-4d5c-b4a3-928170615243",
];

Deno.test("rendezvous: hosts spread evenly over the gateways", () => {
  const counts = new Map<string, number>();
  for (const host of hosts) {
    const winner = rendezvousWinner(host, gateways)!;
    counts.set(winner, (counts.get(winner) ?? 0) + 1);
  }
  assertEquals(counts.size, 3);
  for (const [gateway, count] of counts) {
    // 1000 expected each; a binomial spread stays well within ±15 %.
    assert(count > 850 && count < 1150, `${gateway}: ${count} of 3000`);
  }
  assertEquals(rendezvousWinner(hosts[0], []), undefined);
  assertEquals(rendezvousWinner(hosts[0], [gateways[1]]), gateways[1]);
});

Deno.test("rendezvous: a gateway leaving moves only its own hosts", () => {
  const [a, b, c] = gateways;
  for (const host of hosts) {
    const before = rendezvousWinner(host, [a, b, c]);
    const after = rendezvousWinner(host, [a, b]);
    if (before !== c) assertEquals(after, before, host);
    // The order gateways are listed in does not matter.
    assertEquals(rendezvousWinner(host, [c, b, a]), before);
  }
});

Deno.test("a lease is a probe interval and a half", () => {
  assertEquals(leaseMsOf({ interval: 1 }), 1500);
  assertEquals(leaseMsOf({ interval: 5 }), 7500);
});

/** A host whose rendezvous winner among `live` is `winner`. */
function hostWonBy(winner: string, live: string[]): string {
  return hosts.find((h) => rendezvousWinner(h, live) === winner)!;
}

Deno.test("planLeases: each rule", async (t) => {
  const [self, other] = gateways;
  const live = [self, other];
  const now = 100_000;
  const leaseMs = 1500;
  const state = (leases: LeaseRow[], host: string): LeaseState => ({
    self,
    now,
    leaseMs,
    live: [other],
    hosts: [host],
    leases,
  });
  const mine = hostWonBy(self, live);
  const theirs = hostWonBy(other, live);
  const row = (
    serverUrl: string,
    holder: string | null,
    expiresAt: number,
  ): LeaseRow => ({ serverUrl, holder, expiresAt });

  await t.step("the winner takes it, held by another or not at all", () => {
    for (
      const leases of [
        [],
        [row(mine, other, now + 500)],
        [row(mine, null, now - 10)],
        [row(mine, self, now + 500)],
      ]
    ) {
      assertEquals(planLeases(state(leases, mine)), [
        { serverUrl: mine, kind: "take" },
      ]);
    }
  });

  await t.step("the holder keeps it until the winner takes it", () => {
    for (const expiresAt of [now + 500, now - 100]) {
      assertEquals(planLeases(state([row(theirs, self, expiresAt)], theirs)), [
        { serverUrl: theirs, kind: "keep" },
      ]);
    }
  });

  await t.step("another's unexpired lease is left alone", () => {
    assertEquals(
      planLeases(state([row(theirs, other, now + 1)], theirs)),
      [],
    );
  });

  await t.step("a host nobody held is marked, to start the clock", () => {
    assertEquals(planLeases(state([], theirs)), [
      { serverUrl: theirs, kind: "mark" },
    ]);
  });

  await t.step("a lease that lapsed a lease ago or more is anyone's", () => {
    assertEquals(
      planLeases(state([row(theirs, other, now - leaseMs + 1)], theirs)),
      [],
    );
    for (const holder of [other, null]) {
      assertEquals(
        planLeases(state([row(theirs, holder, now - leaseMs)], theirs)),
        [{ serverUrl: theirs, kind: "late" }],
      );
    }
  });

  await t.step("alone, a gateway takes every host", () => {
    const claims = planLeases({
      self,
      now,
      leaseMs,
      live: [],
      hosts: hosts.slice(0, 50),
      leases: [],
    });
    assertEquals(claims.length, 50);
    assert(claims.every((c) => c.kind === "take"));
  });
});
