/**
 * One health probe: `GET <serverUrl>/health` on a connection of its own,
 * reduced to what the monitor needs, the status code. It writes an
 * HTTP/1.1 request with `Connection: close`, reads the status line, then
 * drains the (small) answer until the host closes, so the host's side takes
 * the TIME_WAIT, not the gateway's. One timer per probe, cleared when it
 * ends.
 *
 * Why not `fetch`: at 10,000 hosts a round of `fetch` probes held about
 * 100 MB more resident memory than this (its client's per-connection
 * buffers, which malloc keeps), and `AbortSignal.timeout` plus
 * `AbortSignal.any` another 100 MB (each a timer and a dependent signal
 * until collected); see `docs/benchmarks.md`, "Health probes".
 *
 * @module
 */

/** What one probe found. */
export type ProbeAnswer =
  | { kind: "answered"; status: number }
  | { kind: "failed"; error: string };

/** Options for {@linkcode probeHealth}. */
export interface ProbeHealthOptions {
  /** Gives up after this long, as `no answer within …`. */
  timeoutMs: number;
  /** Extra request headers (`X-Gateway-Id`). */
  headers?: Record<string, string>;
  /** Ends the probe early (the monitor stopping). */
  signal?: AbortSignal;
  /** CA certificates (PEM) an `https:` host's certificate is checked
   * against. Default the system's. */
  caCerts?: string[];
}

/** A probe of one host's `/health`, as the monitor runs it. */
export type HealthProbe = (
  serverUrl: string,
  options: ProbeHealthOptions,
) => Promise<ProbeAnswer>;

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

/** Reads the status code, then drains the answer until the host closes. */
async function readStatus(conn: Deno.Conn): Promise<number> {
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
    if (found !== "more") status = found;
  }
  if (status === undefined) throw new Error("closed the connection unanswered");
  return status;
}

/** Asks `url`'s `/health` on a connection of its own, closed when done. */
async function ask(
  url: URL,
  options: ProbeHealthOptions & { signal: AbortSignal },
): Promise<number> {
  const { headers = {}, signal, caCerts } = options;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const https = url.protocol === "https:";
  const port = Number(url.port || (https ? 443 : 80));
  const tcp = await Deno.connect({ hostname, port, signal });
  let conn: Deno.Conn = tcp;
  const close = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  // Ending the probe closes the connection, which ends a read or write.
  signal.addEventListener("abort", close);
  try {
    // A stalled handshake is left to finish in the background: the probe
    // has already answered (`probeHealth` races it with its end).
    if (https) conn = await Deno.startTls(tcp, { hostname, caCerts });
    signal.throwIfAborted();
    await writeAll(conn, requestBytes(url, headers));
    return await readStatus(conn);
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/**
 * Probes `serverUrl`'s `/health`: its status code, or why there was none
 * (refused, timed out, closed, not HTTP).
 */
export async function probeHealth(
  serverUrl: string,
  options: ProbeHealthOptions,
): Promise<ProbeAnswer> {
  const { timeoutMs, signal } = options;
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return { kind: "failed", error: `not a URL: ${serverUrl}` };
  }
  // One controller a probe (not `AbortSignal.timeout`/`any`: see above).
  const ending = new AbortController();
  const timer = setTimeout(() => ending.abort("timeout"), timeoutMs);
  const stop = () => ending.abort("stopped");
  signal?.addEventListener("abort", stop);
  try {
    const status = await Promise.race([
      ask(url, { ...options, signal: ending.signal }),
      new Promise<never>((_, reject) =>
        ending.signal.addEventListener("abort", () => reject(), { once: true })
      ),
    ]);
    return { kind: "answered", status };
  } catch (cause) {
    if (ending.signal.reason === "timeout") {
      return {
        kind: "failed",
        error: `no answer within ${timeoutMs / 1000} s`,
      };
    }
    if (ending.signal.aborted) return { kind: "failed", error: "stopped" };
    return { kind: "failed", error: (cause as Error).message };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", stop);
  }
}
