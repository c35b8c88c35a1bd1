/**
 * The gateway's WebSocket proxy (`/ws/:sessionId`, relayed to the session's
 * streamer), against a direct connection, on a real `webstream -gateway`:
 *
 * - **Echo target** (throughput and latency): a session record written into
 *   the gateway's store before it starts points at a loopback echo server
 *   (`echo_server.ts`, a child process) as if it were the session's
 *   streamer. A user signed in through the real `/api/signin` opens the
 *   gateway's `/ws/:sessionId`; the same client also opens the echo server
 *   directly, and through a *bare relay* (`echo_server.ts relay`: the least
 *   a WebSocket relay can do in Deno, so the figure that separates what any
 *   user-space relay costs from what the gateway adds). *Throughput*: 64 KiB
 *   binary messages with a window of several in flight, bytes echoed back
 *   per second (each byte crosses a relay twice). *Latency*: sequential
 *   round trips of a small text message. Rounds alternate direct, bare relay
 *   and gateway, each on a fresh connection opened (and warmed with a few
 *   round trips) before timing. The relays' CPU time per relayed megabyte is
 *   read from `/proc`.
 * - **Real streamer** (latency): a real `webstream -backend` (real pool
 *   user, Xvfb and streamer) registered with the gateway; the user launches
 *   a desktop through `/api/launch` and sends the streamer's JSON `ping`s,
 *   through the gateway and — with the token of a reconnect launch, at the
 *   endpoint `/resolveSession` names — directly to the streamer port.
 *
 * Targets from the issue: proxied throughput at least 70 % of direct, and an
 * added p50 round trip under 1 ms.
 *
 * @module
 */
import {
  decodeStreamerMessage,
  encodeClientMessage,
} from "../httpdocs/session/protocol.js";
import { hashPassword } from "../mod/gateway/auth/password.ts";
import {
  type BenchHost,
  type BenchRunOptions,
  startHost,
  type Stats,
  summarize,
  until,
} from "./common.ts";
import { type ChildServer, startChildServer } from "./child_server.ts";
import {
  ADMIN_TOKEN,
  benchRun,
  cpuSeconds,
  type GatewayProcess,
  signIn,
  startGatewayProcess,
  writeSessions,
} from "./gateway_common.ts";
import { sessionRecord } from "../tests/support/gateway_parts.ts";

/** Options for {@linkcode runProxyBench}. */
export interface ProxyBenchOptions extends BenchRunOptions {
  /** Alternating rounds (direct, bare relay, gateway) against the echo server. */
  rounds: number;
  /** Bytes echoed per round and path. */
  throughputBytes: number;
  /** Size of each throughput message. Default 64 KiB. */
  messageBytes?: number;
  /** Messages in flight. Default 8. */
  window?: number;
  /** Echo round trips per round and path. */
  pings: number;
  /** Rounds against the real streamer (0: skip it). */
  streamerRounds: number;
  /** Streamer pings per round and path. */
  streamerPings: number;
}

/** Direct and proxied figures of one measure. */
export interface Pair<T> {
  /** Straight to the target. */
  direct: T;
  /** Through the gateway. */
  proxy: T;
}

/** The same, with the bare Deno relay as a reference. */
export interface Triple<T> extends Pair<T> {
  /** Through the bare relay (`echo_server.ts relay`). */
  bareRelay: T;
}

type PathName = keyof Triple<unknown>;

/** Everything {@linkcode runProxyBench} measured. */
export interface ProxyResult {
  /** Bytes echoed back per second, MB/s (10⁶ bytes). */
  throughput: Triple<number>;
  /** Relay CPU time per relayed MB (each direction counted), ms. */
  relayCpuMsPerMb: { bareRelay: number; proxy: number };
  /** Echo round trips (ms). */
  echo: Triple<Stats>;
  /** Round trips of the real streamer's ping (ms); absent when skipped. */
  streamer?: Pair<Stats>;
  /** Why the real streamer part did not run, if it did not. */
  streamerError?: string;
  /** Message size used for throughput. */
  messageBytes: number;
  /** Messages in flight. */
  window: number;
}

const USER = "benchuser";
const PASSWORD = "bench-password-1";

/** Measures the proxy against direct connections. */
export async function runProxyBench(
  options: ProxyBenchOptions,
): Promise<ProxyResult> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const messageBytes = options.messageBytes ?? 64 * 1024;
  const window = options.window ?? 8;
  const { dir, cleanup } = await benchRun("proxy benchmark cleanup");
  try {
    const echo: ChildServer = await startChildServer(
      new URL("./echo_server.ts", import.meta.url),
    );
    cleanup.defer(() => echo.stop());

    // The session the gateway will relay: pointing at the echo server.
    const storePath = `${dir}/gateway.sqlite`;
    const sessionId = crypto.randomUUID();
    seedEchoSession(storePath, sessionId, echo.port);

    const gateway = await startGatewayProcess({
      dir,
      signal,
      interrupted: options.interrupted,
      gateway: {
        storePath,
        healthCheck: { interval: 10 },
        licence: { staleAfter: 3600 },
        auth: {
          users: [{
            name: USER,
            passwordHash: await hashPassword(PASSWORD),
          }],
        },
        workspaces: [{ id: "desktop", name: "Desktop", kind: "desktop" }],
      },
    });
    cleanup.defer(() => gateway.stop());
    const cookie = await signIn(gateway.url, USER, PASSWORD);
    const gatewayWs = gateway.url.replace(/^http/, "ws");

    // The reference relay: the least a relay can do in Deno.
    const directUrl = `ws://127.0.0.1:${echo.port}/stream`;
    const bare: ChildServer = await startChildServer(
      new URL("./echo_server.ts", import.meta.url),
      ["relay", directUrl],
    );
    cleanup.defer(() => bare.stop());

    const paths: {
      name: PathName;
      pid?: number;
      open: () => Promise<Client>;
    }[] = [
      { name: "direct", open: () => Client.open(directUrl) },
      {
        name: "bareRelay",
        pid: bare.pid,
        open: () => Client.open(`ws://127.0.0.1:${bare.port}/stream`),
      },
      {
        name: "proxy",
        pid: gateway.pid,
        open: () =>
          Client.open(`${gatewayWs}/ws/${sessionId}?token=bench`, { cookie }),
      },
    ];
    type Figures = {
      bytes: number;
      seconds: number;
      cpu: number;
      rtts: number[];
    };
    const fresh = (): Figures => ({ bytes: 0, seconds: 0, cpu: 0, rtts: [] });
    const figures: Record<PathName, Figures> = {
      direct: fresh(),
      bareRelay: fresh(),
      proxy: fresh(),
    };
    for (let round = 1; round <= options.rounds; round++) {
      for (const path of paths) {
        signal.throwIfAborted();
        const f = figures[path.name];
        const client = await path.open();
        try {
          // Warm: the first messages through a relay wait for its upstream.
          for (let i = 0; i < 20; i++) await client.roundTrip("warm", signal);
          for (let i = 0; i < options.pings; i++) {
            const t0 = performance.now();
            await client.roundTrip(`ping ${i} ${"x".repeat(64)}`, signal);
            f.rtts.push(performance.now() - t0);
          }
          const cpuBefore = path.pid ? await cpuSeconds(path.pid) : 0;
          const r = await client.throughput(
            options.throughputBytes,
            messageBytes,
            window,
            signal,
          );
          if (path.pid) f.cpu += await cpuSeconds(path.pid) - cpuBefore;
          f.bytes += r.bytes;
          f.seconds += r.seconds;
          progress(
            `  WebSocket ${path.name} round ${round}/${options.rounds}: ${
              (r.bytes / r.seconds / 1e6).toFixed(0)
            } MB/s echoed, p50 round trip ${
              summarize(f.rtts.slice(-options.pings)).p50.toFixed(3)
            } ms`,
          );
        } finally {
          await client.close();
        }
      }
    }

    const rate = (name: PathName): number =>
      figures[name].bytes / figures[name].seconds / 1e6;
    // Each echoed byte crosses a relay twice (out and back).
    const cpuPerMb = (name: PathName): number =>
      figures[name].cpu * 1000 / (2 * figures[name].bytes / 1e6);
    const result: ProxyResult = {
      throughput: {
        direct: rate("direct"),
        bareRelay: rate("bareRelay"),
        proxy: rate("proxy"),
      },
      relayCpuMsPerMb: {
        bareRelay: cpuPerMb("bareRelay"),
        proxy: cpuPerMb("proxy"),
      },
      echo: {
        direct: summarize(figures.direct.rtts),
        bareRelay: summarize(figures.bareRelay.rtts),
        proxy: summarize(figures.proxy.rtts),
      },
      messageBytes,
      window,
    };

    if (options.streamerRounds > 0) {
      try {
        result.streamer = await streamerLatency(gateway, cookie, options);
      } catch (error) {
        if (options.interrupted()) throw error;
        result.streamerError = (error as Error).message;
        console.error(
          "the real streamer part of the proxy benchmark failed:",
          error,
        );
      }
    }
    return result;
  } finally {
    await cleanup.run();
  }
}

/** A session record that makes the gateway relay to the echo server. */
function seedEchoSession(
  storePath: string,
  sessionId: string,
  port: number,
): void {
  const now = Date.now();
  writeSessions(storePath, [sessionRecord({
    sessionId,
    user: USER,
    serverUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    kind: "desktop",
    workspaceIds: ["desktop"],
    createdAt: now,
    lastLaunchAt: now,
    lastCheckinAt: now,
  })]);
}

/**
 * Pings a real streamer through the gateway and directly, in alternating
 * rounds; every round on a fresh token from a (reconnect) launch.
 */
async function streamerLatency(
  gateway: GatewayProcess,
  cookie: string,
  options: ProxyBenchOptions,
): Promise<Pair<Stats>> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const host: BenchHost = await startHost({
    slots: 1,
    warm: 1,
    grace: 30,
    signal,
    interrupted: options.interrupted,
    backend: { gatewayUrl: gateway.url },
  });
  try {
    await until(async () => {
      const response = await fetch(`${gateway.url}/admin/api/hosts`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      const hosts = await response.json() as {
        serverUrl: string;
        state: string;
      }[];
      return hosts.some((h) =>
        h.serverUrl === host.url && h.state === "Healthy"
      );
    }, { what: "the host's registration with the gateway", signal });
    await until(() => host.slots.count("ready") === 1, {
      what: "the host's warm session",
      signal,
    });

    let sessionId: string | undefined;
    const launch = async (): Promise<{ sessionId: string; token: string }> => {
      const response = await fetch(`${gateway.url}/api/launch`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Cookie: cookie },
        body: JSON.stringify({ workspaceId: "desktop", sessionId }),
      });
      const body = await response.json();
      if (response.status !== 200) {
        throw new Error(
          `/api/launch answered ${response.status}: ${JSON.stringify(body)}`,
        );
      }
      sessionId = body.sessionId;
      return body;
    };
    const rtts = { direct: [] as number[], proxy: [] as number[] };
    const gatewayWs = gateway.url.replace(/^http/, "ws");
    for (let round = 1; round <= options.streamerRounds; round++) {
      for (const name of ["proxy", "direct"] as const) {
        signal.throwIfAborted();
        const { sessionId: id, token } = await launch();
        let url = `${gatewayWs}/ws/${id}?token=${encodeURIComponent(token)}`;
        if (name === "direct") {
          const response = await fetch(
            `${gateway.url}/resolveSession?sessionId=${id}&transport=HTTP`,
            { method: "POST" },
          );
          const endpoint = await response.json();
          url =
            `ws://${endpoint.DcvServerEndpoint}:${endpoint.Port}${endpoint.WebUrlPath}?token=${
              encodeURIComponent(token)
            }`;
        }
        const client = await Client.open(
          url,
          name === "proxy" ? { cookie } : undefined,
        );
        try {
          const read = async () =>
            decodeStreamerMessage(
              new Uint8Array(await client.next(signal) as ArrayBuffer),
            );
          const hello = await read();
          if (hello.type !== "hello") {
            throw new Error(`unexpected first message ${hello.type}`);
          }
          const ping = async (n: number): Promise<number> => {
            const t0 = performance.now();
            client.send(encodeClientMessage({ type: "ping", id: n }));
            for (;;) {
              const message = await read();
              if (message.type === "pong" && message.id === n) {
                return performance.now() - t0;
              }
            }
          };
          // PING ids must be non-negative integers (the streamer closes
          // with 4008 otherwise): the warm-up takes the first ten.
          const warmup = 10;
          for (let i = 0; i < warmup; i++) await ping(i);
          for (let i = 0; i < options.streamerPings; i++) {
            rtts[name].push(await ping(warmup + i));
          }
          progress(
            `  streamer ping round ${round}/${options.streamerRounds} ${name}: p50 ${
              summarize(rtts[name].slice(-options.streamerPings)).p50.toFixed(3)
            } ms`,
          );
        } finally {
          await client.close();
        }
      }
    }
    return { direct: summarize(rtts.direct), proxy: summarize(rtts.proxy) };
  } finally {
    // Stopped while the gateway still runs, so its goodbye is answered.
    await host.stop();
  }
}

type Data = string | ArrayBuffer;

/** A minimal WebSocket client: ordered reads, round trips, throughput. */
class Client {
  readonly #socket: WebSocket;
  readonly #queue: Data[] = [];
  readonly #waiters: ((data: Data | Error) => void)[] = [];
  readonly #closed: Promise<CloseEvent>;
  #onData?: (data: Data) => void;
  #closeEvent?: CloseEvent;

  private constructor(socket: WebSocket, closed: Promise<CloseEvent>) {
    this.#socket = socket;
    this.#closed = closed;
    socket.onmessage = (event) => {
      if (this.#onData) return this.#onData(event.data);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(event.data);
      else this.#queue.push(event.data);
    };
    closed.then((event) => {
      this.#closeEvent = event;
      const error = new Error(`socket closed (${event.code} ${event.reason})`);
      for (const waiter of this.#waiters.splice(0)) waiter(error);
    });
  }

  /** Opens `url` (with extra headers, Deno's extension). */
  static open(url: string, headers?: Record<string, string>): Promise<Client> {
    const socket = new WebSocket(url, headers ? { headers } : undefined);
    socket.binaryType = "arraybuffer";
    const closed = Promise.withResolvers<CloseEvent>();
    socket.onclose = (event) => closed.resolve(event);
    socket.onerror = () => {};
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(new Client(socket, closed.promise));
      closed.promise.then((event) =>
        reject(
          new Error(
            `${url.replace(/\?.*/, "")}: connection failed (${event.code})`,
          ),
        )
      );
    });
  }

  send(data: string | Uint8Array): void {
    this.#socket.send(data);
  }

  /** The next message. */
  next(signal: AbortSignal): Promise<Data> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closeEvent) {
      return Promise.reject(
        new Error(`socket closed (${this.#closeEvent.code})`),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push((data) => {
        signal.removeEventListener("abort", onAbort);
        if (data instanceof Error) reject(data);
        else resolve(data);
      });
    });
  }

  /** Sends `text` and waits for its echo. */
  async roundTrip(text: string, signal: AbortSignal): Promise<void> {
    this.send(text);
    const echoed = await this.next(signal);
    if (echoed !== text) throw new Error("the echo did not match");
  }

  /**
   * Keeps `window` messages of `size` bytes in flight until `total` bytes
   * came back; resolves with the bytes and seconds.
   */
  async throughput(
    total: number,
    size: number,
    window: number,
    signal: AbortSignal,
  ): Promise<{ bytes: number; seconds: number }> {
    const payload = crypto.getRandomValues(
      new Uint8Array(Math.min(size, 65536)),
    );
    const message = size > payload.length
      ? new Uint8Array(size).map((_, i) => payload[i % payload.length])
      : payload;
    let sent = 0;
    let received = 0;
    const done = Promise.withResolvers<void>();
    const onAbort = (): void => done.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#closed.then((e) =>
      done.reject(new Error(`socket closed during the transfer (${e.code})`))
    );
    this.#onData = (data) => {
      received += typeof data === "string" ? data.length : data.byteLength;
      if (received >= total) return done.resolve();
      if (sent < total) {
        this.#socket.send(message);
        sent += size;
      }
    };
    const start = performance.now();
    try {
      for (let i = 0; i < window && sent < total; i++) {
        this.#socket.send(message);
        sent += size;
      }
      await done.promise;
      return { bytes: received, seconds: (performance.now() - start) / 1000 };
    } finally {
      this.#onData = undefined;
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Closes and waits for the close. */
  async close(): Promise<void> {
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close();
    await this.#closed;
  }
}
