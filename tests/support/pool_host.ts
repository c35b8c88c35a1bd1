/**
 * A session host's real HTTP app and real session pool on loopback, with
 * the scripted platform standing in for the OS (no Xvfb) and scripted
 * streamers attached to every slot: for gateway tests of the host contract
 * (`/getConnection`, `GET /sessions`, `POST /sessions/:uuid/logoff`).
 *
 * @module
 */
import { parseConfig } from "../../mod/config/mod.ts";
import { createHostApp } from "../../mod/host/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { SessionPool, type SessionPoolOptions } from "../../mod/pool/mod.ts";
import { assert } from "./assert.ts";
import { FakeStreamer, ScriptedPlatform } from "./scripted_platform.ts";
import { waitFor } from "./wait.ts";

/** A running pool host. */
export interface PoolHost {
  /** Its `serverUrl`. */
  url: string;
  /** The real pool. */
  pool: SessionPool;
  /** Launches `sessionId` through `/getConnection`; its answer. */
  launch(sessionId: string): Promise<{ sessionUuid: string; port: number }>;
  /** Stops the pool and the server. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startPoolHost}. */
export interface PoolHostOptions {
  /** The farm's shared secret. */
  sharedSecret?: string;
  /** Slots (all kept warm). Default 2. */
  slots?: number;
  /** Told when a bound session ends. */
  onSessionEnd?: SessionPoolOptions["onSessionEnd"];
}

/** Starts a pool host on 127.0.0.1 with every slot ready. */
export async function startPoolHost(
  options: PoolHostOptions = {},
): Promise<PoolHost> {
  const slots = options.slots ?? 2;
  const config = parseConfig({
    webstreamSettings: {
      serverMaxSessionCount: slots,
      warmSessionCount: slots,
      basePortNumber: 9000,
    },
  }, { env: {} });
  const quiet = createLogger({ sink: () => {} });
  const platform = new ScriptedPlatform();
  const pool = new SessionPool({
    config,
    platform,
    controlUrl: "ws://127.0.0.1:1/control",
    bindAddress: "127.0.0.1",
    logger: quiet,
    tokenAckTimeoutMs: 500,
    onSessionEnd: options.onSessionEnd,
  });
  const app = createHostApp({
    pool,
    logger: quiet,
    staticRoot: "/nonexistent",
    advertisedHost: "127.0.0.1",
    sharedSecret: options.sharedSecret,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  await pool.start();
  // Streamers for every slot, now and whenever a slot is provisioned again.
  const attached = new Set<string>();
  const attach = () => {
    for (const slot of pool.snapshot()) {
      const key = `${slot.account} ${slot.sessionUuid}`;
      if (slot.state !== "provisioning" || !slot.display) continue;
      if (attached.has(key)) continue;
      const streamer = new FakeStreamer(slot.account, pool);
      if (pool.attach(streamer).ok) attached.add(key);
    }
  };
  const timer = setInterval(attach, 10);
  await waitFor(() =>
    pool.snapshot().every((s) => s.state === "ready") || undefined
  );
  const auth: Record<string, string> = options.sharedSecret
    ? { Authorization: `Bearer ${options.sharedSecret}` }
    : {};
  return {
    url,
    pool,
    async launch(sessionId) {
      const response = await fetch(`${url}/getConnection`, {
        headers: { "X-Session-ID": sessionId, ...auth },
      });
      const body = await response.json();
      assert(response.ok, `launch ${sessionId}: ${JSON.stringify(body)}`);
      return body;
    },
    async stop() {
      clearInterval(timer);
      await pool.shutdown();
      await server.shutdown();
    },
  };
}
