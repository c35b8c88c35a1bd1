/**
 * The streamer's licence check-ins against a loopback gateway: the first
 * after `firstDelayMs`, each a POST of `{ sessionUuid, serverUrl, proof }`;
 * the interval the gateway answers is followed; 403 ends the session at once,
 * three 404s in a row end it (a 200 in between resets the count); a gateway
 * that cannot be reached or fails never ends it; `stop()` stops posting; and
 * `caCertificate` lets it check in with a gateway serving HTTPS under a
 * self-signed certificate; with several gateways, check-ins go to the first
 * that answers (one down, or answering 503 from a proxy) and stay there.
 */
import {
  type LicenceCheckinOptions,
  type LicenceCheckins,
  MAX_UNKNOWN,
  startLicenceCheckins,
} from "../../mod/streamer/licence.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { selfSignedCertificate } from "../support/tls.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

const SESSION = "8a6f8f7e-3f5c-4f52-9a57-1f1f0f3c9b10";
const SERVER = "http://10.0.0.5:9005";
const PROOF = "5e".repeat(32);

interface Checkin {
  /** Parsed body. */
  body: Record<string, unknown>;
  /** Path requested. */
  path: string;
  /** Method. */
  method: string;
  /** Content-Type sent. */
  contentType: string | null;
  /** performance.now() at arrival. */
  at: number;
}

interface LicenceServer {
  url: string;
  checkins: Checkin[];
  /** The answer to the n-th check-in (0-based); replaceable. */
  answer: (n: number) => Response;
  stop(): Promise<void>;
}

function startServer(
  answer: (n: number) => Response,
  tls?: { cert: string; key: string },
): LicenceServer {
  const checkins: Checkin[] = [];
  const state: LicenceServer = {
    url: "",
    checkins,
    answer,
    stop: () => server.shutdown(),
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...tls },
    async (request) => {
      const at = performance.now();
      checkins.push({
        body: await request.json().catch(() => ({})),
        path: new URL(request.url).pathname,
        method: request.method,
        contentType: request.headers.get("content-type"),
        at,
      });
      return state.answer(checkins.length - 1);
    },
  );
  state.url = `${
    tls ? "https://localhost" : "http://127.0.0.1"
  }:${server.addr.port}`;
  return state;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Check-ins of SESSION on SERVER to `gatewayUrl`: the first at once, refusals
 * ignored, logs kept nowhere, unless `options` say otherwise.
 */
function checkIn(
  gatewayUrl: string | string[],
  options: Partial<LicenceCheckinOptions> = {},
): LicenceCheckins {
  return startLicenceCheckins({
    gatewayUrl,
    serverUrl: SERVER,
    sessionUuid: SESSION,
    onRefused: () => {},
    logger: captureLogs("debug").logger,
    firstDelayMs: 0,
    ...options,
  });
}

/**
 * Checks in every 20 ms to `gatewayUrl`, which cannot be reached, until the
 * failure is logged and 200 ms more have passed; resolves with the refusals
 * (a gateway out of reach must cause none).
 */
async function refusalsWhileUnreachable(gatewayUrl: string): Promise<string[]> {
  const refused: string[] = [];
  const { logger, records } = captureLogs("debug");
  const checkins = checkIn(gatewayUrl, {
    onRefused: (reason) => refused.push(reason),
    logger,
    intervalMs: 20,
  });
  try {
    await waitFor(() => records.length);
    await sleep(200);
  } finally {
    checkins.stop();
  }
  return refused;
}

/** `{ ok, interval }` as the gateway answers, with the interval in seconds. */
const ok = (interval: number) => Response.json({ ok: true, interval });

Deno.test("waits firstDelayMs, then posts { sessionUuid, serverUrl, proof }", async () => {
  const server = startServer(() => ok(60));
  const refused: string[] = [];
  const started = performance.now();
  const checkins = checkIn(`${server.url}/`, {
    proof: PROOF,
    onRefused: (reason) => refused.push(reason),
    firstDelayMs: 300,
    intervalMs: 60_000,
  });
  try {
    const [first] = await waitFor(() =>
      server.checkins.length ? server.checkins : undefined
    );
    assert(
      first.at - started >= 295,
      `the first check-in came ${first.at - started} ms after the start`,
    );
    assertEquals(first.method, "POST");
    assertEquals(first.path, "/gateway/licence/checkin");
    assertEquals(first.contentType, "application/json");
    assertEquals(first.body, {
      sessionUuid: SESSION,
      serverUrl: SERVER,
      proof: PROOF,
    });
    assertEquals(refused, []);
  } finally {
    checkins.stop();
    await server.stop();
  }
});

Deno.test("follows the interval the gateway answers", async () => {
  // 50 ms between check-ins until the fifth answer says a minute.
  const server = startServer((n) => ok(n < 4 ? 0.05 : 60));
  const checkins = checkIn(server.url, { intervalMs: 60_000 });
  try {
    // With the configured minute, a second check-in would never come.
    await waitFor(() => server.checkins.length >= 5);
    const times = server.checkins.map((c) => c.at);
    for (let i = 1; i < 5; i++) {
      assert(times[i] - times[i - 1] >= 45, `gap ${times[i] - times[i - 1]}`);
    }
    await sleep(400);
    assertEquals(server.checkins.length, 5, "a minute now");
  } finally {
    checkins.stop();
    await server.stop();
  }
});

Deno.test("a 403 ends the session at once", async () => {
  const server = startServer(() =>
    Response.json({ error: "licence limit reached", interval: 0.02 }, {
      status: 403,
    })
  );
  const refused: string[] = [];
  const checkins = checkIn(server.url, {
    onRefused: (reason) => refused.push(reason),
  });
  try {
    await waitFor(() => refused.length);
    assertEquals(refused, ["licence refused: licence limit reached"]);
    assertEquals(server.checkins.length, 1);
    await sleep(300);
    assertEquals(server.checkins.length, 1, "no check-ins after a refusal");
    assertEquals(refused.length, 1);
  } finally {
    checkins.stop();
    await server.stop();
  }
});

Deno.test("three 404s in a row end the session", async () => {
  assertEquals(MAX_UNKNOWN, 3);
  const server = startServer(() =>
    Response.json({ error: "unknown session", interval: 0.02 }, {
      status: 404,
    })
  );
  const refused: { reason: string; after: number }[] = [];
  const checkins = checkIn(server.url, {
    onRefused: (reason) =>
      refused.push({ reason, after: server.checkins.length }),
  });
  try {
    await waitFor(() => refused.length);
    assertEquals(refused, [{
      reason: "the gateway does not know this session",
      after: 3,
    }]);
    await sleep(300);
    assertEquals(server.checkins.length, 3);
    assertEquals(refused.length, 1);
  } finally {
    checkins.stop();
    await server.stop();
  }
});

Deno.test("a 200 between 404s resets the count", async () => {
  // 404, 404, 200, 404, 404, 404: only the sixth ends the session.
  const server = startServer((n) =>
    n === 2 ? ok(0.02) : Response.json({ interval: 0.02 }, { status: 404 })
  );
  const refused: number[] = [];
  const checkins = checkIn(server.url, {
    onRefused: () => refused.push(server.checkins.length),
  });
  try {
    await waitFor(() => refused.length);
    assertEquals(refused, [6]);
  } finally {
    checkins.stop();
    await server.stop();
  }
});

Deno.test("a gateway that cannot be reached or fails never ends the session", async (t) => {
  await t.step("connections closed at once", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let connections = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        connections++;
        conn.close();
      }
    })();
    const { logger, records } = captureLogs("debug");
    const refused: string[] = [];
    const checkins = checkIn(`http://127.0.0.1:${listener.addr.port}`, {
      onRefused: (reason) => refused.push(reason),
      logger,
      intervalMs: 20,
    });
    try {
      await waitFor(() => connections >= 6);
      assertEquals(refused, []);
      // Said once, not at every failure.
      const warnings = records.filter((r) =>
        r.msg === "licence check-in failed; the session continues"
      );
      assertEquals(warnings.length, 1);
    } finally {
      checkins.stop();
      listener.close();
      await accepting.catch(() => {});
    }
  });

  await t.step("nothing listening", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    assertEquals(
      await refusalsWhileUnreachable(`http://127.0.0.1:${port}`),
      [],
    );
  });

  await t.step("500s", async () => {
    const server = startServer(() =>
      Response.json({ error: "database down" }, { status: 500 })
    );
    const refused: string[] = [];
    const checkins = checkIn(server.url, {
      onRefused: (reason) => refused.push(reason),
      intervalMs: 20,
    });
    try {
      await waitFor(() => server.checkins.length >= 6);
      assertEquals(refused, []);
    } finally {
      checkins.stop();
      await server.stop();
    }
  });
});

Deno.test("with two gateways where the first is down, check-ins reach the second", async (t) => {
  const second = startServer(() => ok(0.05));
  try {
    for (
      const [what, first] of [
        ["nothing listening", { url: `http://127.0.0.1:${freePort()}` }],
        [
          "a proxy answering 503",
          startServer(() => new Response("no upstream", { status: 503 })),
        ],
      ] as const
    ) {
      await t.step(what, async () => {
        const seen = second.checkins.length;
        const checkins = checkIn([first.url, second.url], {
          intervalMs: 50,
        });
        try {
          await waitFor(() => second.checkins.length >= seen + 3);
          const [checkin] = second.checkins.slice(seen);
          assertEquals(checkin.path, "/gateway/licence/checkin");
          assertEquals(checkin.body.sessionUuid, SESSION);
          // The gateway that answered is kept: the first is asked once.
          if ("checkins" in first) assertEquals(first.checkins.length, 1);
        } finally {
          checkins.stop();
          if ("stop" in first) await first.stop();
        }
      });
    }
  } finally {
    await second.stop();
  }
});

Deno.test("stop() stops posting, even before the first check-in", async (t) => {
  await t.step("while checking in", async () => {
    const server = startServer(() => ok(0.02));
    const checkins = checkIn(server.url);
    try {
      await waitFor(() => server.checkins.length >= 3);
      checkins.stop();
      await sleep(100); // a check-in already on its way may still land
      const count = server.checkins.length;
      await sleep(300);
      assertEquals(server.checkins.length, count);
    } finally {
      checkins.stop();
      await server.stop();
    }
  });
  await t.step("before the first", async () => {
    const server = startServer(() => ok(0.02));
    const checkins = checkIn(server.url, { firstDelayMs: 100 });
    checkins.stop();
    try {
      await sleep(400);
      assertEquals(server.checkins.length, 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test({
  name:
    "caCertificate: check-ins reach a gateway serving HTTPS with a self-signed certificate",
  async fn() {
    const cert = await selfSignedCertificate();
    const server = startServer(() => ok(0.02), {
      cert: cert.cert,
      key: cert.key,
    });
    try {
      const refused: string[] = [];
      const trusted = checkIn(server.url, {
        caCertificate: cert.certFile,
        onRefused: (reason) => refused.push(reason),
      });
      try {
        await waitFor(() => server.checkins.length >= 2);
        assertEquals(server.checkins[0].body, {
          sessionUuid: SESSION,
          serverUrl: SERVER,
        });
      } finally {
        trusted.stop();
      }
      await sleep(100); // the check-ins close their HTTP client as they end
      assertEquals(refused, []);

      // Without the CA the certificate is not trusted: nothing arrives, and
      // the session is not ended for it.
      const before = server.checkins.length;
      assertEquals(await refusalsWhileUnreachable(server.url), []);
      assertEquals(server.checkins.length, before);
    } finally {
      await server.stop();
      await cert.remove();
    }
  },
});
