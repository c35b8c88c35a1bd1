/**
 * `webstream download FILE`: an app or a user in the session sends a file to
 * the browser. The command connects to the streamer over a Unix socket in
 * the session's runtime folder (mode 0600: only the session user reaches
 * it) and names the file; the streamer sends it to the viewer and answers
 * when the browser has every byte, or why it could not. Exit 0: sent; 1:
 * refused (policy, size cap, unreadable, the browser went away); 2: usage;
 * 3: no streamer in this session.
 *
 * Wire format: one JSON line each way. Command → streamer `{"path": "…"}`
 * (absolute); streamer → command `{"ok": true, "name", "size"}` or
 * `{"ok": false, "error": "…"}`.
 *
 * Deno has no Unix sockets on Windows (denoland/deno#18236); this command
 * is for Linux sessions only in this release.
 *
 * @module
 */
import { z } from "zod";
import { isAbsolute, resolve } from "node:path";
import type { Logger } from "../log/mod.ts";
import { parseJson } from "../util/json_depth.ts";
import type { DownloadOutcome } from "./download.ts";

/** Environment variable naming the socket, set for apps the streamer starts. */
export const DOWNLOAD_SOCKET_ENV = "WEBSTREAM_DOWNLOAD_SOCKET";

/** The socket's file name inside `$XDG_RUNTIME_DIR` (or `$HOME`). */
export const DOWNLOAD_SOCKET_NAME = "webstream-download.sock";

/** Where the streamer listens, from the session's environment. */
export function downloadSocketPath(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  if (env[DOWNLOAD_SOCKET_ENV]) return env[DOWNLOAD_SOCKET_ENV]!;
  const dir = env.XDG_RUNTIME_DIR ?? env.HOME ?? "/tmp";
  return `${dir}/${DOWNLOAD_SOCKET_NAME}`;
}

const requestSchema = z.object({
  path: z.string().min(1).max(4096).refine(isAbsolute, "an absolute path"),
}).strict();

const answerSchema = z.union([
  z.object({ ok: z.literal(true), name: z.string(), size: z.number() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

/** Options for {@linkcode DownloadCommandServer}. */
export interface DownloadCommandServerOptions {
  /** Socket path. Default {@linkcode downloadSocketPath}(). */
  path?: string;
  /** Sends the file to the browser. */
  onRequest: (path: string) => Promise<DownloadOutcome>;
  /** Logger. */
  logger: Logger;
}

/** The streamer's side: accepts `webstream download` requests. */
export class DownloadCommandServer {
  /** The socket's path. */
  readonly path: string;
  readonly #listener: Deno.Listener;
  readonly #options: DownloadCommandServerOptions;
  readonly #conns = new Set<Deno.Conn>();

  constructor(options: DownloadCommandServerOptions) {
    this.#options = options;
    this.path = options.path ?? downloadSocketPath();
    try {
      Deno.removeSync(this.path);
    } catch {
      // Not there: fine.
    }
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    Deno.chmodSync(this.path, 0o600);
    this.#accept();
  }

  /** Stops listening; commands still waiting are closed. */
  close(): void {
    for (const conn of this.#conns) safeClose(conn);
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    try {
      Deno.removeSync(this.path);
    } catch {
      // Gone already.
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#serve(conn);
    } catch {
      // Listener closed.
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    try {
      const line = await readLine(conn, 8192);
      // Any app in the session may write here: depth is bounded first.
      const parsed = parseJson(line ?? "");
      const checked = parsed.ok ? requestSchema.safeParse(parsed.value) : null;
      if (!checked?.success) {
        await writeLine(conn, {
          ok: false,
          error: 'expected one JSON line: {"path": "/absolute/path"}',
        });
        return;
      }
      this.#options.logger.info("download requested");
      const outcome = await this.#options.onRequest(checked.data.path);
      await writeLine(conn, outcome);
    } finally {
      this.#conns.delete(conn);
      safeClose(conn);
    }
  }
}

/** Outcome of `webstream download`: what to print and the exit code. */
export interface DownloadCommandResult {
  /** 0 sent, 1 refused or failed, 3 no streamer. */
  code: number;
  /** What to print on stdout (success) or stderr. */
  text: string;
}

/** The command's side: asks the streamer to send `file` and waits. */
export async function runDownload(
  file: string,
  options: { path?: string; cwd?: string } = {},
): Promise<DownloadCommandResult> {
  const socket = options.path ?? downloadSocketPath();
  const path = resolve(options.cwd ?? Deno.cwd(), file);
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (error) {
    return {
      code: 3,
      text: `no webstream streamer in this session (${socket}: ${
        (error as Error).message
      })`,
    };
  }
  try {
    await writeLine(conn, { path });
    const line = await readLine(conn, 65_536);
    if (line === undefined) {
      return { code: 1, text: "the streamer went away" };
    }
    const answer = answerSchema.safeParse(JSON.parse(line));
    if (!answer.success) {
      return { code: 1, text: "the streamer's answer was not understood" };
    }
    return answer.data.ok
      ? {
        code: 0,
        text: `sent ${answer.data.name} (${answer.data.size} bytes)`,
      }
      : { code: 1, text: answer.data.error };
  } finally {
    safeClose(conn);
  }
}

/** The first line from `conn`, or undefined when it closes or passes `max`. */
async function readLine(
  conn: Deno.Conn,
  max: number,
): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let buffer = "";
  const chunk = new Uint8Array(4096);
  while (buffer.length <= max) {
    let n: number | null;
    try {
      n = await conn.read(chunk);
    } catch {
      return undefined;
    }
    if (n === null) return undefined;
    buffer += decoder.decode(chunk.subarray(0, n), { stream: true });
    const nl = buffer.indexOf("\n");
    if (nl >= 0) return buffer.slice(0, nl);
  }
  return undefined;
}

async function writeLine(conn: Deno.Conn, value: unknown): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(value)}\n`);
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await conn.write(bytes.subarray(written));
    }
  } catch {
    // The other side went away.
  }
}

function safeClose(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
