/**
 * A real folder watched with inotify: a file written in several steps is
 * handed on once, after it stopped changing; a partial download renamed
 * into place is handed on under its final name; hidden and partial files,
 * files already there and sub-folders are not; a file rewritten later goes
 * again; the folder is created when missing. The folders default to
 * `~/Downloads` and `~/PDF`, and the environment can move or turn them off.
 *
 * @module
 */
import { createLogger } from "../../mod/log/mod.ts";
import {
  WatchedFolder,
  watchedFolders,
} from "../../mod/streamer/watched_folder.ts";
import { assertEquals } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";

const logger = createLogger({ format: "json", sink: () => {} });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("files that appear and settle are handed on once", async () => {
  await withTempDir(async (dir) => {
    const folder = `${dir}/Downloads`;
    await Deno.mkdir(folder);
    await Deno.writeTextFile(`${folder}/old.txt`, "there before");
    const ready: string[] = [];
    const watched = new WatchedFolder({
      directory: folder,
      settleMs: 150,
      logger,
      onReady: (path) => ready.push(path),
    });
    try {
      // Written in steps, each sooner than the quiet time.
      const file = await Deno.open(`${folder}/report.txt`, {
        write: true,
        create: true,
      });
      for (let i = 0; i < 5; i++) {
        await file.write(new TextEncoder().encode(`line ${i}\n`));
        await sleep(60);
      }
      file.close();
      await Deno.writeTextFile(`${folder}/.hidden`, "x");
      await Deno.writeTextFile(`${folder}/movie.mp4.part`, "partial");
      await Deno.mkdir(`${folder}/sub`);
      await Deno.writeTextFile(`${folder}/sub/inner.txt`, "x");
      await Deno.rename(`${folder}/movie.mp4.part`, `${folder}/movie.mp4`);
      await waitFor(() => ready.length >= 2, { what: "two files" });
      await sleep(500);
      assertEquals(ready.sort(), [
        `${folder}/movie.mp4`,
        `${folder}/report.txt`,
      ]);
      // Touched without a change: not again. Rewritten: again.
      await Deno.utime(
        `${folder}/report.txt`,
        new Date(),
        (await Deno.stat(`${folder}/report.txt`)).mtime!,
      );
      await sleep(500);
      assertEquals(ready.length, 2);
      await Deno.writeTextFile(`${folder}/report.txt`, "new content");
      await waitFor(() => ready.length === 3, { what: "the rewritten file" });
      assertEquals(ready[2], `${folder}/report.txt`);
    } finally {
      watched.close();
    }
  });
});

Deno.test("a missing folder is created, private to the user", async () => {
  await withTempDir(async (dir) => {
    const watched = new WatchedFolder({
      directory: `${dir}/PDF`,
      logger,
      onReady: () => {},
    });
    watched.close();
    const info = await Deno.stat(`${dir}/PDF`);
    assertEquals(info.isDirectory, true);
    assertEquals(info.mode! & 0o777, 0o700);
  });
});

Deno.test("the folders: ~/Downloads and ~/PDF unless the environment says", () => {
  assertEquals(watchedFolders({ HOME: "/home/u" }), {
    downloads: "/home/u/Downloads",
    print: "/home/u/PDF",
  });
  assertEquals(
    watchedFolders({
      HOME: "/home/u",
      WEBSTREAM_DOWNLOADS_DIR: "/srv/out",
      WEBSTREAM_PRINT_DIR: "",
    }),
    { downloads: "/srv/out", print: undefined },
  );
  assertEquals(watchedFolders({}), { downloads: undefined, print: undefined });
});
