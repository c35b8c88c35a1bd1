/**
 * A real disk that fills up, for tests of what a full disk does: a small
 * tmpfs mounted (as root) on a temporary folder, a filler file that takes
 * every free block so writes there fail with ENOSPC (SQLite: `database or
 * disk is full`), and deleting it to free the space again. The tmpfs is
 * unmounted and its folder removed however the test ends.
 *
 * @module
 */
import { runCommand } from "./command.ts";

/** Whether this process may mount a tmpfs (it runs as root). */
export function canMount(): boolean {
  return Deno.uid() === 0;
}

/** A mounted small tmpfs. */
export interface SmallDisk {
  /** Where it is mounted. */
  dir: string;
  /** Takes every free block with a filler file. */
  fill(): Promise<void>;
  /** Deletes the filler file. */
  free(): Promise<void>;
}

/** Options for {@linkcode withSmallDisk}. */
export interface SmallDiskOptions {
  /** Size of the tmpfs. Default 4 MiB. */
  sizeKiB?: number;
}

/**
 * Mounts a small tmpfs on a new temporary folder, runs `fn` with it, then
 * unmounts it and removes the folder, whether `fn` succeeded or not.
 */
export async function withSmallDisk(
  fn: (disk: SmallDisk) => Promise<void>,
  options: SmallDiskOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-full-disk-" });
  const mounted = await runCommand("mount", {
    args: [
      "-t",
      "tmpfs",
      "-o",
      `size=${options.sizeKiB ?? 4096}k,mode=0700`,
      "webstream-test",
      dir,
    ],
  });
  if (!mounted.ok) {
    await Deno.remove(dir);
    throw new Error(`mount tmpfs on ${dir} failed: ${mounted.stderr.trim()}`);
  }
  const filler = `${dir}/filler`;
  const disk: SmallDisk = {
    dir,
    async fill() {
      using file = await Deno.open(filler, {
        write: true,
        create: true,
        append: true,
      });
      // Big chunks first, then single pages, until not one more fits.
      for (const size of [256 * 1024, 4096, 512]) {
        const chunk = new Uint8Array(size);
        try {
          for (;;) await file.write(chunk);
        } catch (error) {
          if (!/No space left/i.test(String(error))) throw error;
        }
      }
    },
    async free() {
      await Deno.remove(filler).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
  };
  try {
    await fn(disk);
  } finally {
    await unmount(dir);
  }
}

/**
 * Unmounts `dir` (a process still holding a file there makes it busy for a
 * moment: tried again, then detached lazily) and removes the folder.
 */
async function unmount(dir: string): Promise<void> {
  let last = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    const result = await runCommand("umount", { args: [dir] });
    if (result.ok) {
      await Deno.remove(dir);
      return;
    }
    last = result.stderr.trim();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const lazy = await runCommand("umount", { args: ["-l", dir] });
  if (lazy.ok) await Deno.remove(dir);
  throw new Error(`unmounting ${dir} failed: ${last || lazy.stderr.trim()}`);
}
