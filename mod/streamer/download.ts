/**
 * Downloads from the session to one viewer (`DOWNLOAD_START`, `_CHUNK`,
 * `_END` in `webstream/2`). A file is read in chunks of at most
 * `MAX_DOWNLOAD_CHUNK` bytes and never held whole: at most `window` chunks
 * wait for the viewer's `DOWNLOAD_ACK`, and none is read while the socket
 * holds more than `maxBuffered` bytes, so a slow viewer slows the reading
 * instead of growing a queue. The size is fixed when the download starts;
 * a file that shrinks meanwhile fails it, one that grows is sent as it was.
 *
 * @module
 */
import {
  MAX_DOWNLOAD_CHUNK,
  type StreamerMessage,
} from "../../httpdocs/session/protocol.js";

/** What a download carries: a file, or a print job's PDF. */
export type DownloadKind = "file" | "print";

/** A file to send. */
export interface DownloadRequest {
  /** Absolute path of the file in the session. */
  path: string;
  /** `file` or `print`. */
  kind: DownloadKind;
}

/** How a download ended. */
export type DownloadOutcome =
  | { ok: true; name: string; size: number }
  | { ok: false; error: string };

/** Options for {@linkcode DownloadSender}. */
export interface DownloadSenderOptions {
  /** Sends a message to the viewer. */
  send: (message: StreamerMessage) => void;
  /** Bytes the viewer's socket still holds. */
  buffered: () => number;
  /** Largest file allowed, in bytes (the policy's `downloadMaxBytes`). */
  maxBytes: number;
  /** Chunks that may wait for an acknowledgement. Default 8 (2 MiB). */
  window?: number;
  /** Socket bytes beyond which no chunk is read. Default 4 MiB. */
  maxBuffered?: number;
  /** How long to wait for the viewer's acknowledgements, ms. Default 60 s. */
  stallMs?: number;
}

/** A download under way. */
interface Active {
  /** Chunks sent. */
  sent: number;
  /** Chunks the viewer acknowledged. */
  acked: number;
  /** Why it stopped early (the viewer cancelled or left). */
  stopped?: string;
  /** Wakes the sending loop. */
  wake: () => void;
}

/** Sends files to one viewer; see the module documentation. */
export class DownloadSender {
  readonly #options: DownloadSenderOptions;
  readonly #active = new Map<number, Active>();
  #nextId = 0;
  #closed?: string;

  constructor(options: DownloadSenderOptions) {
    this.#options = options;
  }

  /** Downloads under way. */
  get activeCount(): number {
    return this.#active.size;
  }

  /**
   * Sends the file at `request.path` and resolves once the viewer has
   * acknowledged every chunk (or the download failed, saying why).
   */
  async send(request: DownloadRequest): Promise<DownloadOutcome> {
    const name = downloadName(request.path);
    if (this.#closed) return { ok: false, error: this.#closed };
    let file: Deno.FsFile;
    try {
      file = await Deno.open(request.path, { read: true });
    } catch (error) {
      return {
        ok: false,
        error: `cannot read ${request.path}: ${message(error)}`,
      };
    }
    try {
      const info = await file.stat();
      if (!info.isFile) {
        return { ok: false, error: `${request.path} is not a regular file` };
      }
      if (info.size > this.#options.maxBytes) {
        return {
          ok: false,
          error:
            `${name} is ${info.size} bytes, more than this session's download limit of ${this.#options.maxBytes} bytes`,
        };
      }
      return await this.#stream(file, {
        name,
        size: info.size,
        kind: request.kind,
      });
    } finally {
      try {
        file.close();
      } catch {
        // Closed already.
      }
    }
  }

  /** The viewer acknowledged `chunks` chunks of a download in all. */
  ack(downloadId: number, chunks: number): void {
    const active = this.#active.get(downloadId);
    if (!active) return;
    active.acked = Math.max(active.acked, Math.min(chunks, active.sent));
    active.wake();
  }

  /** The viewer cancelled a download. */
  cancel(downloadId: number): void {
    this.#stop(downloadId, "cancelled in the browser");
  }

  /** Fails every download (the viewer left); later ones fail at once. */
  close(reason = "the browser disconnected"): void {
    this.#closed = reason;
    for (const id of [...this.#active.keys()]) this.#stop(id, reason);
  }

  #stop(downloadId: number, reason: string): void {
    const active = this.#active.get(downloadId);
    if (!active || active.stopped) return;
    active.stopped = reason;
    active.wake();
  }

  async #stream(
    file: Deno.FsFile,
    meta: { name: string; size: number; kind: DownloadKind },
  ): Promise<DownloadOutcome> {
    const { send } = this.#options;
    const window = this.#options.window ?? 8;
    const maxBuffered = this.#options.maxBuffered ?? 4 * 1024 * 1024;
    const stallMs = this.#options.stallMs ?? 60_000;
    const downloadId = ++this.#nextId >>> 0;
    let signal = Promise.withResolvers<void>();
    const active: Active = {
      sent: 0,
      acked: 0,
      wake: () => signal.resolve(),
    };
    this.#active.set(downloadId, active);
    // Waits for an ack, a stop, or (for a full socket, which has no event)
    // a short poll; fails a viewer that stopped acknowledging.
    const wait = async (poll: boolean) => {
      const timer = setTimeout(
        () => this.#stop(downloadId, "the browser stopped acknowledging"),
        stallMs,
      );
      const tick = poll ? setTimeout(() => active.wake(), 20) : undefined;
      await signal.promise;
      clearTimeout(timer);
      clearTimeout(tick);
      signal = Promise.withResolvers<void>();
    };
    try {
      send({ type: "downloadStart", download: { downloadId, ...meta } });
      let offset = 0;
      const buffer = new Uint8Array(MAX_DOWNLOAD_CHUNK);
      while (offset < meta.size) {
        if (active.stopped) break;
        if (active.sent - active.acked >= window) {
          await wait(false);
          continue;
        }
        if (this.#options.buffered() > maxBuffered) {
          await wait(true);
          continue;
        }
        const want = Math.min(buffer.length, meta.size - offset);
        const n = await file.read(buffer.subarray(0, want));
        if (n === null || n === 0) {
          active.stopped = `${meta.name} became shorter while it was sent`;
          break;
        }
        send({
          type: "downloadChunk",
          downloadId,
          data: buffer.slice(0, n),
        });
        active.sent++;
        offset += n;
      }
      if (!active.stopped) {
        send({ type: "downloadEnd", end: { downloadId, ok: true } });
        while (active.acked < active.sent && !active.stopped) await wait(false);
      }
      if (active.stopped) {
        send({
          type: "downloadEnd",
          end: { downloadId, ok: false, error: active.stopped },
        });
        return { ok: false, error: active.stopped };
      }
      return { ok: true, name: meta.name, size: meta.size };
    } catch (error) {
      const reason = `cannot read ${meta.name}: ${message(error)}`;
      send({
        type: "downloadEnd",
        end: { downloadId, ok: false, error: reason },
      });
      return { ok: false, error: reason };
    } finally {
      this.#active.delete(downloadId);
    }
  }
}

/**
 * The name the browser saves a file under: the path's last component,
 * without control characters, at most 255 characters (the extension kept).
 */
export function downloadName(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").trim() ||
    "download";
  if (clean.length <= 255) return clean;
  const dot = clean.lastIndexOf(".");
  const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : "";
  return clean.slice(0, 255 - ext.length) + ext;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
