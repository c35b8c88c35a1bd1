/**
 * A watched folder in the session (`~/Downloads`, and `~/PDF` where print
 * jobs land): a regular file that appears there and then stops changing is
 * handed on once. "Stopped changing" means the same size and modification
 * time over `settleMs`. Hidden files and partial downloads (`.part`,
 * `.crdownload`, `.tmp`) are skipped; files already there when watching
 * starts are not handed on.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Options for {@linkcode WatchedFolder}. */
export interface WatchedFolderOptions {
  /** The folder; created (mode 0700) when missing. */
  directory: string;
  /** A file is complete: send it. */
  onReady: (path: string) => void;
  /** Quiet time before a file counts as complete, ms. Default 500. */
  settleMs?: number;
  /** Logger. */
  logger: Logger;
}

/** Environment variable moving the downloads folder; empty: not watched. */
export const DOWNLOADS_DIR_ENV = "WEBSTREAM_DOWNLOADS_DIR";

/** Environment variable moving the print jobs' folder; empty: not watched. */
export const PRINT_DIR_ENV = "WEBSTREAM_PRINT_DIR";

/**
 * The folders a session's streamer watches: `~/Downloads` for files and
 * `~/PDF` for print jobs (where the host's cups-pdf queue writes), unless
 * {@linkcode DOWNLOADS_DIR_ENV} or {@linkcode PRINT_DIR_ENV} say otherwise
 * (an empty value: that folder is not watched). Without `$HOME`, only what
 * those variables name.
 */
export function watchedFolders(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): { downloads?: string; print?: string } {
  const pick = (name: string, fallback: string) => {
    const value = env[name];
    if (value !== undefined) return value || undefined;
    return env.HOME ? `${env.HOME}/${fallback}` : undefined;
  };
  return {
    downloads: pick(DOWNLOADS_DIR_ENV, "Downloads"),
    print: pick(PRINT_DIR_ENV, "PDF"),
  };
}

/** Names that are still being written or are not meant to leave. */
const SKIPPED = /^\.|\.(part|crdownload|tmp)$/i;

/** Watches one folder; see the module documentation. */
export class WatchedFolder {
  /** The folder watched. */
  readonly directory: string;
  readonly #options: WatchedFolderOptions;
  readonly #watcher: Deno.FsWatcher;
  /** Files being watched until they settle, by path. */
  readonly #settling = new Map<string, ReturnType<typeof setTimeout>>();
  /** `size:mtime` of each file handed on, so it goes once. */
  readonly #sent = new Map<string, string>();
  #closed = false;

  constructor(options: WatchedFolderOptions) {
    this.#options = options;
    this.directory = options.directory;
    Deno.mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    this.#watcher = Deno.watchFs(this.directory, { recursive: false });
    this.#watch();
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#settling.values()) clearTimeout(timer);
    this.#settling.clear();
    try {
      this.#watcher.close();
    } catch {
      // Closed already.
    }
  }

  async #watch(): Promise<void> {
    try {
      for await (const event of this.#watcher) {
        if (event.kind === "remove" || event.kind === "access") continue;
        for (const path of event.paths) this.#changed(path);
      }
    } catch (error) {
      if (!this.#closed) {
        this.#options.logger.warn("folder watch ended", {
          directory: this.directory,
          error,
        });
      }
    }
  }

  #changed(path: string): void {
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (this.#closed || SKIPPED.test(name)) return;
    if (path.slice(0, path.length - name.length - 1) !== this.directory) return;
    this.#check(path, undefined);
  }

  /** Looks at `path` again after the quiet time; `last` is what it saw. */
  #check(path: string, last: string | undefined): void {
    clearTimeout(this.#settling.get(path));
    this.#settling.set(
      path,
      setTimeout(async () => {
        this.#settling.delete(path);
        if (this.#closed) return;
        let info: Deno.FileInfo;
        try {
          info = await Deno.lstat(path);
        } catch {
          return; // Gone (renamed or removed): nothing to send.
        }
        if (!info.isFile) return;
        const now = `${info.size}:${info.mtime?.getTime()}`;
        if (now !== last) return this.#check(path, now);
        if (this.#sent.get(path) === now) return;
        this.#sent.set(path, now);
        this.#options.onReady(path);
      }, this.#options.settleMs ?? 500),
    );
  }
}
