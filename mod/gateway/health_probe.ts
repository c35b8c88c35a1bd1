/**
 * Health probes: `GET <serverUrl>/health` on a connection each, reduced to
 * what the monitor needs, the status code. A probe writes an HTTP/1.1
 * request with `Connection: close`, reads the status line, then drains the
 * (small) answer until the host closes, so the host's side takes the
 * TIME_WAIT, not the gateway's.
 *
 * Built for 10,000 hosts probed every few seconds, when many probes are in
 * flight at each young-generation collection and what they hold is
 * promoted: a probe holds a record, its connection and one promise. No
 * timer and no event listener per probe: one sweep a
 * {@linkcode SWEEP_MS} ends those past their deadline, and closing the
 * prober ends the rest. With `fetch`, `AbortSignal.timeout` and
 * `AbortSignal.any` the gateway's old generation grew by 258 MB a minute at
 * 10,000 hosts, most of it probes; 73 MB in all with this (see
 * `docs/benchmarks.md`, "Probes without `fetch`").
 *
 * @module
 */

/** What one probe found. */
export type ProbeAnswer =
  | { kind: "answered"; status: number }
  | { kind: "failed"; error: string };

/** Probes hosts' `/health`: the monitor's port ({@linkcode HealthProber}). */
export interface Prober {
  /** Probes `serverUrl`'s `/health`. */
  probe(serverUrl: string): Promise<ProbeAnswer>;
  /** Ends every probe in flight (each answers `stopped`). */
  close(): void;
}

/** Options for {@linkcode HealthProber}. */
export interface HealthProberOptions {
  /** A probe gives up after this long, as `no answer within …`. */
  timeoutMs: number;
  /** Extra request headers (`X-Gateway-Id`). */
  headers?: Record<string, string>;
  /**
   * CA certificates (PEM) an `https:` host's certificate is checked
   * against. Default the system's.
   */
  caCerts?: string[];
}

/** How often probes past their deadline are ended, at most, ms. */
export const SWEEP_MS = 100;

/** The most bytes read of an answer: a health answer is a few hundred. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** `HTTP/1.` as bytes: a status line's start. */
const HTTP_1 = new TextEncoder().encode("HTTP/1.");

/** Bytes of `HTTP/1.x NNN ` (the version, the code and what follows it). */
const STATUS_HEAD = 13;

/**
 * The status code in the first `length` bytes of `head`: "more" while they
 * are a status line's start, "not HTTP" as soon as they cannot be one.
 * Read from the bytes: a string made of each answer would be garbage.
 */
export function statusCodeOf(
  head: Uint8Array,
  length: number,
): number | "more" | "not HTTP" {
  const isDigit = (at: number) => head[at] >= 0x30 && head[at] <= 0x39;
  for (let at = 0; at < Math.min(length, STATUS_HEAD); at++) {
    const fits = at < HTTP_1.length
      ? head[at] === HTTP_1[at]
      : at === 7
      ? head[at] === 0x30 || head[at] === 0x31
      : at === 8
      ? head[at] === 0x20
      : at < 12
      ? isDigit(at)
      : head[at] === 0x20 || head[at] === 0x0d;
    if (!fits) return "not HTTP";
  }
  if (length < STATUS_HEAD) return "more";
  return (head[9] - 0x30) * 100 + (head[10] - 0x30) * 10 + head[11] - 0x30;
}

const encoder = new TextEncoder();

/** The request's bytes. */
function requestBytes(url: URL, headers: Record<string, string>): Uint8Array {
  const path = `${url.pathname.replace(/\/$/, "")}/health`;
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${url.host}`,
    "Connection: close",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return encoder.encode(`${lines.join("\r\n")}\r\n\r\n`);
}

/** Writes all of `bytes`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/**
 * Reads the status code (told to `heard` as soon as it is read), then
 * drains the answer until the host closes.
 */
async function readStatus(
  conn: Deno.Conn,
  heard: (status: number) => void,
): Promise<number> {
  const buffer = new Uint8Array(1024);
  let status: number | undefined;
  let head = 0;
  let total = 0;
  while (total < MAX_ANSWER_BYTES) {
    const read = await conn.read(
      status === undefined ? buffer.subarray(head) : buffer,
    );
    if (read === null) break;
    total += read;
    if (status !== undefined) continue;
    head += read;
    const found = statusCodeOf(buffer, head);
    if (found === "not HTTP") {
      throw new Error("answered something other than HTTP/1.1");
    }
    if (found !== "more") heard(status = found);
  }
  if (status === undefined) throw new Error("closed the connection unanswered");
  return status;
}

/** A probe in flight. */
interface InFlight {
  deadline: number;
  /** Ends a connection attempt still under way. */
  connecting: AbortController;
  /** The connection, once open (TLS: the TCP connection under it). */
  conn?: Deno.Conn;
  /** Answers the probe (the first call wins). */
  settle(answer: ProbeAnswer): void;
  settled: boolean;
  /** The status code, once read (the answer may still be draining). */
  status?: number;
}

/** Probes hosts' `/health`, each on a connection of its own. */
export class HealthProber implements Prober {
  readonly #options: HealthProberOptions;
  readonly #inFlight = new Set<InFlight>();
  #sweeper?: ReturnType<typeof setInterval>;

  constructor(options: HealthProberOptions) {
    this.#options = options;
  }

  /** Probes `serverUrl`'s `/health`: its status code, or why there was none. */
  probe(serverUrl: string): Promise<ProbeAnswer> {
    let url: URL;
    try {
      url = new URL(serverUrl);
    } catch {
      return Promise.resolve({
        kind: "failed",
        error: `not a URL: ${serverUrl}`,
      });
    }
    return new Promise((resolve) => {
      const probe: InFlight = {
        deadline: performance.now() + this.#options.timeoutMs,
        connecting: new AbortController(),
        settled: false,
        settle: (answer) => {
          if (probe.settled) return;
          probe.settled = true;
          this.#inFlight.delete(probe);
          if (!this.#inFlight.size) this.#stopSweeping();
          resolve(answer);
        },
      };
      this.#inFlight.add(probe);
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS);
      this.#ask(url, probe).then(
        (status) => probe.settle({ kind: "answered", status }),
        // A host that answered, then broke the connection, did answer.
        (cause) =>
          probe.settle(
            probe.status === undefined
              ? { kind: "failed", error: (cause as Error).message }
              : { kind: "answered", status: probe.status },
          ),
      );
    });
  }

  close(): void {
    for (const probe of [...this.#inFlight]) this.#end(probe, "stopped");
  }

  /** Asks `url`'s `/health` for `probe`; its connection closed when done. */
  async #ask(url: URL, probe: InFlight): Promise<number> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const https = url.protocol === "https:";
    const port = Number(url.port || (https ? 443 : 80));
    const tcp = await Deno.connect({
      hostname,
      port,
      signal: probe.connecting.signal,
    });
    probe.conn = tcp;
    try {
      if (probe.settled) throw new Error("ended");
      // A stalled handshake leaves this to finish in the background: the
      // probe has answered already, at its deadline.
      const conn = https
        ? await Deno.startTls(tcp, { hostname, caCerts: this.#options.caCerts })
        : tcp;
      probe.conn = conn;
      if (probe.settled) throw new Error("ended");
      await writeAll(conn, requestBytes(url, this.#options.headers ?? {}));
      return await readStatus(conn, (status) => probe.status = status);
    } finally {
      closeQuietly(probe.conn);
    }
  }

  /** Ends the probes past their deadline. */
  #sweep(): void {
    const now = performance.now();
    for (const probe of this.#inFlight) {
      if (probe.deadline <= now) this.#end(probe, "timeout");
    }
  }

  /** Answers `probe` and ends its connection or attempt. */
  #end(probe: InFlight, why: "timeout" | "stopped"): void {
    // One that answered but kept the connection open (`Connection: close`
    // ignored) answered all the same.
    probe.settle(
      why === "timeout" && probe.status !== undefined
        ? { kind: "answered", status: probe.status }
        : {
          kind: "failed",
          error: why === "timeout"
            ? `no answer within ${this.#options.timeoutMs / 1000} s`
            : "stopped",
        },
    );
    if (probe.conn) closeQuietly(probe.conn);
    else probe.connecting.abort();
  }

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

/** Closes `conn` if it is open. */
function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}
