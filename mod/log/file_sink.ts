/**
 * A log sink that appends lines to a file, for processes without a console
 * (a Windows service has no stderr). The file is rotated by size: when the
 * next line would take it past `maxBytes`, `webstream.log` becomes
 * `webstream.log.1`, `.1` becomes `.2`, and so on, keeping `keep` old files,
 * so a long-running service cannot fill the disk.
 *
 * The sink never throws: a line that cannot be written is dropped, and the
 * first failure is reported once (on stderr by default). The file is opened
 * on the first line and reopened after a failure, at most once per
 * `retryMs`.
 *
 * @module
 */

/** Options for {@linkcode createFileSink}. */
export interface FileSinkOptions {
  /** Size at which the file is rotated. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`.1` … `.keep`). Default 3. */
  keep?: number;
  /** Wait before retrying after a failure. Default 10 s. */
  retryMs?: number;
  /**
   * Told about the first failure only. Default: one line on stderr (which
   * may go nowhere; nothing else can be done).
   */
  onError?: (message: string) => void;
}

/** A file log sink. */
export interface FileSink {
  /** The file written. */
  readonly path: string;
  /** Appends `line` and a line break; never throws. */
  write(line: string): void;
  /** Closes the file; a later `write` opens it again. */
  close(): void;
}

/** The default rotation size: 10 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** The default number of rotated files kept. */
export const DEFAULT_LOG_KEEP = 3;

const encoder = new TextEncoder();

/**
 * A sink appending to `path` (its folder created when missing), for
 * `createLogger({ format: "json", sink: sink.write })`.
 *
 * @throws {RangeError} for a `maxBytes` below 1 or a negative `keep`.
 */
export function createFileSink(
  path: string,
  options: FileSinkOptions = {},
): FileSink {
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const keep = options.keep ?? DEFAULT_LOG_KEEP;
  const retryMs = options.retryMs ?? 10_000;
  if (!(maxBytes >= 1)) throw new RangeError("maxBytes must be at least 1");
  if (!(Number.isInteger(keep) && keep >= 0)) {
    throw new RangeError("keep must be a whole number ≥ 0");
  }
  const report = options.onError ?? noteOnStderr;
  let file: Deno.FsFile | undefined;
  let size = 0;
  let reported = false;
  // After a failure, no new attempt (open or rotation) before this time.
  let retryAt = 0;

  function fail(error: unknown): void {
    retryAt = Date.now() + retryMs;
    if (reported) return;
    reported = true;
    try {
      report(
        `log file ${path}: ${(error as Error).message ?? error}; ` +
          "lines that cannot be written are dropped",
      );
    } catch {
      // The reporter is the last resort; nothing is left to tell.
    }
  }

  function open(): Deno.FsFile {
    const folder = parentOf(path);
    if (folder) Deno.mkdirSync(folder, { recursive: true });
    refuseLinks(path);
    const opened = Deno.openSync(path, {
      append: true,
      create: true,
      mode: 0o640,
    });
    try {
      size = opened.statSync().size;
    } catch (error) {
      opened.close();
      throw error;
    }
    return opened;
  }

  function closeFile(): void {
    try {
      file?.close();
    } catch {
      // Already closed.
    }
    file = undefined;
  }

  /** Shifts `.1`…`.keep-1` up one, drops the oldest, and starts a new file. */
  function rotate(): void {
    closeFile();
    if (keep === 0) {
      removeIfPresent(path);
    } else {
      removeIfPresent(`${path}.${keep}`);
      for (let i = keep - 1; i >= 1; i--) {
        renameIfPresent(`${path}.${i}`, `${path}.${i + 1}`);
      }
      Deno.renameSync(path, `${path}.1`);
    }
  }

  function write(line: string): void {
    const bytes = encoder.encode(line + "\n");
    try {
      if (!file) {
        if (Date.now() < retryAt) return;
        file = open();
      }
      if (size > 0 && size + bytes.length > maxBytes && Date.now() >= retryAt) {
        try {
          rotate();
        } catch (error) {
          // Rotation failed (a reader holding the file open on Windows, say):
          // keep appending, up to twice the limit, and try again later.
          fail(error);
        }
        file ??= open();
      }
      if (size + bytes.length > 2 * maxBytes && size > 0) return;
      writeAll(file, bytes);
      size += bytes.length;
    } catch (error) {
      closeFile();
      fail(error);
    }
  }

  return {
    path,
    write,
    close: closeFile,
  };
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

/** The folder part of `path`, for `/` and `\` separators. */
function parentOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  // "/x.log" → "/"; "x.log" → "" (the current folder, which exists).
  return cut < 0 ? "" : path.slice(0, cut) || path.slice(0, 1);
}

/**
 * Refuses a log file that is a symbolic link, a junction or a hard link:
 * where ordinary users can create files in the log folder (ProgramData's
 * default), one could otherwise point the service's writes elsewhere.
 */
function refuseLinks(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isSymlink) {
    throw new Error("it is a symbolic link or junction; not followed");
  }
  if (!info.isFile) throw new Error("it is not a regular file");
  if (info.nlink !== null && info.nlink > 1) {
    throw new Error("it has other hard links; not written");
  }
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function noteOnStderr(message: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(`webstream: ${message}\n`));
  } catch {
    // No stderr (a service): the note is lost, as the line was.
  }
}
