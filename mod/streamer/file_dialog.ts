/**
 * Headless file dialogs. An application in the session runs
 * `webstream file-dialog`; it connects to the streamer over a Unix socket in
 * the session's runtime folder (only the session user can reach it), the
 * streamer asks the browser for a file (`FILE_REQUEST`), the browser uploads
 * it, and when the session manager's `FILE_UPLOAD_COMPLETE` for that dialog
 * arrives the dialog prints the landed path and exits 0. Exit 1: the user
 * cancelled; 2: usage; 3: no streamer or timed out.
 *
 * Wire format on the socket: one JSON object per line. Dialog → streamer
 * `{"title": "…"}`; streamer → dialog `{"dialogGuid": "…"}` at once, then
 * `{"path": "…"}` or `{"cancelled": true, "reason": "…"}`.
 *
 * Deno has no Unix sockets on Windows (denoland/deno#18236). There the
 * streamer listens on loopback TCP instead and writes, at the same path, a
 * rendezvous file `{"port": N, "secret": "…"}` readable by the session user
 * only (the profile's own permissions; mode 0600 elsewhere); the dialog
 * reads it and sends the secret in its request, since any local user can
 * reach a loopback port.
 *
 * @module
 */
import { z } from "zod";
import type { Logger } from "../log/mod.ts";
import { parseJson } from "../util/json_depth.ts";

/** Environment variable naming the socket, set for apps the streamer starts. */
export const FILE_DIALOG_SOCKET_ENV = "WEBSTREAM_FILE_DIALOG_SOCKET";

/** The socket's file name inside `$XDG_RUNTIME_DIR` (or `$HOME`, or `%USERPROFILE%`). */
export const FILE_DIALOG_SOCKET_NAME = "webstream-file-dialog.sock";

/** Where the streamer listens, from the session's environment. */
export function fileDialogSocketPath(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  if (env[FILE_DIALOG_SOCKET_ENV]) return env[FILE_DIALOG_SOCKET_ENV]!;
  const dir = env.XDG_RUNTIME_DIR ?? env.HOME ?? env.USERPROFILE ?? "/tmp";
  return `${dir}/${FILE_DIALOG_SOCKET_NAME}`;
}

const requestSchema = z.object({
  title: z.string().max(200).optional(),
  secret: z.string().max(128).optional(),
});

const rendezvousSchema = z.object({
  port: z.number().int().min(1).max(65535),
  secret: z.string().min(16).max(128),
});

/** How the streamer listens: a Unix socket, or loopback TCP with a secret. */
export type FileDialogTransport = "unix" | "tcp";

/** The transport for this OS: TCP where Deno has no Unix sockets (Windows). */
export function defaultFileDialogTransport(
  os: typeof Deno.build.os = Deno.build.os,
): FileDialogTransport {
  return os === "windows" ? "tcp" : "unix";
}

/** A dialog waiting for a file. */
export interface PendingDialog {
  /** Its GUID (the seed's `dialogGuid`). */
  dialogGuid: string;
  /** What to show the user. */
  title: string;
}

/** Options for {@linkcode FileDialogServer}. */
export interface FileDialogServerOptions {
  /** Socket (or rendezvous file) path. Default {@linkcode fileDialogSocketPath}(). */
  path?: string;
  /** Default {@linkcode defaultFileDialogTransport}(). */
  transport?: FileDialogTransport;
  /** A dialog opened: ask the browser. */
  onRequest: (dialog: PendingDialog) => void;
  /** Logger. */
  logger: Logger;
}

/** The streamer's side: accepts dialogs and completes them. */
export class FileDialogServer {
  readonly path: string;
  readonly #listener: Deno.Listener;
  readonly #waiting = new Map<
    string,
    { dialog: PendingDialog; conn: Deno.Conn }
  >();
  readonly #options: FileDialogServerOptions;

  readonly #secret: string | undefined;

  constructor(options: FileDialogServerOptions) {
    this.#options = options;
    this.path = options.path ?? fileDialogSocketPath();
    try {
      Deno.removeSync(this.path);
    } catch {
      // Not there: fine.
    }
    if ((options.transport ?? defaultFileDialogTransport()) === "unix") {
      this.#listener = Deno.listen({ transport: "unix", path: this.path });
      Deno.chmodSync(this.path, 0o600);
    } else {
      this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      this.#secret = randomSecret();
      try {
        writeRendezvous(this.path, {
          port: (this.#listener.addr as Deno.NetAddr).port,
          secret: this.#secret,
        });
      } catch (error) {
        this.#listener.close();
        throw error;
      }
    }
    this.#accept();
  }

  /** Dialogs still waiting (to ask a viewer that connects later). */
  pending(): PendingDialog[] {
    return [...this.#waiting.values()].map((w) => w.dialog);
  }

  /** Whether `dialogGuid` is waiting. */
  has(dialogGuid: string): boolean {
    return this.#waiting.has(dialogGuid);
  }

  /** Completes a dialog with the landed file's path. */
  complete(dialogGuid: string, path: string): boolean {
    return this.#finish(dialogGuid, { path });
  }

  /** Ends a dialog without a file. */
  cancel(dialogGuid: string, reason: string): boolean {
    return this.#finish(dialogGuid, { cancelled: true, reason });
  }

  /** Stops listening; waiting dialogs are cancelled. */
  close(): void {
    for (const guid of [...this.#waiting.keys()]) {
      this.cancel(guid, "the session ended");
    }
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

  #finish(dialogGuid: string, answer: Record<string, unknown>): boolean {
    const waiting = this.#waiting.get(dialogGuid);
    if (!waiting) return false;
    this.#waiting.delete(dialogGuid);
    writeLine(waiting.conn, answer).finally(() => safeClose(waiting.conn));
    return true;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) this.#serve(conn);
    } catch {
      // Listener closed.
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    // A dialog's request is one short line.
    const lines = lineReader(conn, 4096);
    const line = (await lines.next()).value;
    // Any app in the session may write here: depth is bounded before parsing.
    const parsed = parseJson(line ?? "");
    const checked = parsed.ok ? requestSchema.safeParse(parsed.value) : null;
    if (!checked?.success) {
      const error = !parsed.ok && parsed.reason === "too-deep"
        ? parsed.error
        : 'expected one JSON line: {"title"}';
      await writeLine(conn, { error });
      return safeClose(conn);
    }
    const request = checked.data;
    if (
      this.#secret !== undefined && !sameSecret(request.secret, this.#secret)
    ) {
      await writeLine(conn, { error: "wrong or missing secret" });
      return safeClose(conn);
    }
    const dialog = {
      dialogGuid: crypto.randomUUID(),
      title: request.title ?? "Choose a file to upload",
    };
    this.#waiting.set(dialog.dialogGuid, { dialog, conn });
    await writeLine(conn, { dialogGuid: dialog.dialogGuid });
    this.#options.logger.info("file dialog opened", {
      dialogGuid: dialog.dialogGuid,
    });
    this.#options.onRequest(dialog);
    // The dialog process going away cancels it.
    lines.next().then(() => {
      if (this.#waiting.get(dialog.dialogGuid)?.conn === conn) {
        this.#waiting.delete(dialog.dialogGuid);
        safeClose(conn);
      }
    });
  }
}

/** Options for {@linkcode runFileDialog}. */
export interface FileDialogOptions {
  /** Title shown in the browser. */
  title?: string;
  /** Seconds to wait for the user. Default 600. */
  timeout?: number;
  /** Socket (or rendezvous file) path. Default {@linkcode fileDialogSocketPath}(). */
  path?: string;
}

/** Outcome of `webstream file-dialog`: what to print and the exit code. */
export interface FileDialogResult {
  /** Exit code: 0 a file landed, 1 cancelled, 3 unavailable or timed out. */
  code: number;
  /** The landed file's path (printed on stdout). */
  path?: string;
  /** Why there is no file (printed on stderr). */
  error?: string;
}

/** The dialog's side: asks the streamer and waits for the file. */
export async function runFileDialog(
  options: FileDialogOptions = {},
): Promise<FileDialogResult> {
  const path = options.path ?? fileDialogSocketPath();
  let conn: Deno.Conn;
  let secret: string | undefined;
  try {
    const rendezvous = readRendezvous(path);
    secret = rendezvous?.secret;
    conn = rendezvous
      ? await Deno.connect({ hostname: "127.0.0.1", port: rendezvous.port })
      : await Deno.connect({ transport: "unix", path });
  } catch (error) {
    return {
      code: 3,
      error: `no webstream streamer in this session (${path}: ${
        (error as Error).message
      })`,
    };
  }
  const timer = setTimeout(
    () => safeClose(conn),
    (options.timeout ?? 600) * 1000,
  );
  try {
    await writeLine(conn, { title: options.title, secret });
    const lines = lineReader(conn);
    const first = await lines.next();
    if (first.done) return { code: 3, error: "the streamer went away" };
    const opened = JSON.parse(first.value);
    if (opened.error) return { code: 3, error: String(opened.error) };
    const answer = await lines.next();
    if (answer.done) {
      return { code: 3, error: "timed out or the streamer went away" };
    }
    const result = JSON.parse(answer.value);
    if (typeof result.path === "string") return { code: 0, path: result.path };
    return { code: 1, error: String(result.reason ?? "cancelled") };
  } finally {
    clearTimeout(timer);
    safeClose(conn);
  }
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares without an early exit, so the time says nothing of the secret. */
function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined || given.length !== secret.length) return false;
  let diff = 0;
  for (let i = 0; i < secret.length; i++) {
    diff |= given.charCodeAt(i) ^ secret.charCodeAt(i);
  }
  return diff === 0;
}

/** Writes the rendezvous file whole (a temp file renamed into place). */
function writeRendezvous(
  path: string,
  value: z.infer<typeof rendezvousSchema>,
): void {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    Deno.writeTextFileSync(temp, JSON.stringify(value), {
      mode: 0o600,
      createNew: true,
    });
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // Never made.
    }
    throw error;
  }
}

/** The rendezvous at `path`, or undefined when it is not a rendezvous file (a socket). */
function readRendezvous(
  path: string,
): z.infer<typeof rendezvousSchema> | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return undefined;
  }
  if (!info.isFile || info.size > 4096) return undefined;
  return rendezvousSchema.parse(JSON.parse(Deno.readTextFileSync(path)));
}

/** Lines from `conn`; ends when it closes or a line passes `maxLine`. */
async function* lineReader(
  conn: Deno.Conn,
  maxLine = 65_536,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  const chunk = new Uint8Array(4096);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(chunk);
    } catch {
      return;
    }
    if (n === null) return;
    buffer += decoder.decode(chunk.subarray(0, n), { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
    }
    if (buffer.length > maxLine) return;
  }
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
