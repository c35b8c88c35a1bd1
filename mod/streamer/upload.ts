/**
 * Files uploaded from the browser into the session: written to a hidden
 * `.part` file in the session user's `Uploads` folder and renamed into place
 * when complete, under a safe, unused name. A broken or refused upload leaves
 * nothing behind.
 *
 * @module
 */

/** Largest upload accepted, in bytes. */
export const MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

/** Uploads in progress at once, per viewer. */
export const MAX_CONCURRENT_UPLOADS = 4;

/** An upload refused or broken; the message is shown to the user. */
export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadError";
  }
}

/** A finished upload. */
export interface LandedFile {
  /** The upload's id. */
  uploadId: number;
  /** Where it landed. */
  path: string;
  /** Its size. */
  size: number;
  /** The dialog it answers, if any. */
  dialogGuid?: string;
}

interface Active {
  file: Deno.FsFile;
  partPath: string;
  name: string;
  size: number;
  received: number;
  dialogGuid?: string;
}

/** Options for {@linkcode UploadReceiver}. */
export interface UploadReceiverOptions {
  /** Folder files land in. Default {@linkcode defaultUploadDirectory}. */
  directory?: string;
  /** Largest file, bytes. Default {@linkcode MAX_UPLOAD_BYTES}. */
  maxBytes?: number;
}

/** Receives the uploads of one viewer. */
export class UploadReceiver {
  readonly directory: string;
  readonly #maxBytes: number;
  readonly #active = new Map<number, Active>();

  constructor(options: UploadReceiverOptions = {}) {
    this.directory = options.directory ?? defaultUploadDirectory();
    this.#maxBytes = options.maxBytes ?? MAX_UPLOAD_BYTES;
  }

  /** Starts an upload. */
  async start(
    uploadId: number,
    file: { name: string; size: number; dialogGuid?: string },
  ): Promise<void> {
    if (this.#active.has(uploadId)) {
      throw new UploadError(`upload ${uploadId} is already under way`);
    }
    if (this.#active.size >= MAX_CONCURRENT_UPLOADS) {
      throw new UploadError(
        `at most ${MAX_CONCURRENT_UPLOADS} uploads at a time`,
      );
    }
    if (file.size > this.#maxBytes) {
      throw new UploadError(
        `${file.size} bytes is more than the ${this.#maxBytes} allowed`,
      );
    }
    const name = safeFileName(file.name);
    await Deno.mkdir(this.directory, { recursive: true, mode: 0o700 });
    const partPath = `${this.directory}/.${crypto.randomUUID()}.part`;
    const handle = await Deno.open(partPath, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    this.#active.set(uploadId, {
      file: handle,
      partPath,
      name,
      size: file.size,
      received: 0,
      dialogGuid: file.dialogGuid,
    });
  }

  /** Appends a chunk. */
  async chunk(uploadId: number, data: Uint8Array): Promise<void> {
    const upload = this.#get(uploadId);
    if (upload.received + data.length > upload.size) {
      await this.abort(uploadId);
      throw new UploadError(
        `more bytes than the ${upload.size} announced for ${upload.name}`,
      );
    }
    let written = 0;
    while (written < data.length) {
      written += await upload.file.write(data.subarray(written));
    }
    upload.received += data.length;
  }

  /** Finishes an upload: the file is renamed into place. */
  async end(uploadId: number): Promise<LandedFile> {
    const upload = this.#get(uploadId);
    if (upload.received !== upload.size) {
      await this.abort(uploadId);
      throw new UploadError(
        `${upload.name}: ${upload.received} of ${upload.size} bytes arrived`,
      );
    }
    this.#active.delete(uploadId);
    upload.file.close();
    const path = await this.#unusedPath(upload.name);
    await Deno.rename(upload.partPath, path);
    return {
      uploadId,
      path,
      size: upload.size,
      dialogGuid: upload.dialogGuid,
    };
  }

  /** Drops an upload and its partial file. */
  async abort(uploadId: number): Promise<void> {
    const upload = this.#active.get(uploadId);
    if (!upload) return;
    this.#active.delete(uploadId);
    try {
      upload.file.close();
    } catch {
      // Closed already.
    }
    await Deno.remove(upload.partPath).catch(() => {});
  }

  /** Drops every upload (the viewer went away). */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#active.keys()].map((id) => this.abort(id)));
  }

  #get(uploadId: number): Active {
    const upload = this.#active.get(uploadId);
    if (!upload) throw new UploadError(`no upload ${uploadId} under way`);
    return upload;
  }

  async #unusedPath(name: string): Promise<string> {
    const dot = name.lastIndexOf(".");
    const [stem, ext] = dot > 0
      ? [name.slice(0, dot), name.slice(dot)]
      : [name, ""];
    for (let n = 0; n < 1000; n++) {
      const candidate = `${this.directory}/${
        n ? `${stem} (${n})${ext}` : name
      }`;
      try {
        await Deno.lstat(candidate);
      } catch {
        return candidate;
      }
    }
    return `${this.directory}/${stem} ${crypto.randomUUID()}${ext}`;
  }
}

/**
 * A file name safe to create: the last path component, without control
 * characters or a leading dot, at most 200 characters; "upload" if nothing
 * is left.
 */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  let safe = base.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  safe = safe.replace(/^\.+/, "");
  if (safe.length > 200) safe = safe.slice(-200);
  return safe || "upload";
}

/**
 * The session user's `Uploads` folder: under `$HOME` (Linux) or
 * `%USERPROFILE%` (Windows).
 */
export function defaultUploadDirectory(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  return `${env.HOME ?? env.USERPROFILE ?? "/tmp"}/Uploads`;
}
