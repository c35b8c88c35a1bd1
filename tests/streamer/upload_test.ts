/**
 * Uploads into a real folder: a file lands under its sanitised name only when
 * every announced byte arrived; names never overwrite; too many bytes, too
 * few, too large or unknown uploads are refused and leave no partial file.
 *
 * @module
 */
import {
  defaultUploadDirectory,
  MAX_CONCURRENT_UPLOADS,
  safeFileName,
  UploadError,
  UploadReceiver,
} from "../../mod/streamer/upload.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("an upload lands whole, under a safe name that never overwrites", async () => {
  await withTempDir(async (dir) => {
    const uploads = new UploadReceiver({ directory: `${dir}/Uploads` });
    await uploads.start(1, { name: "../../etc/report.txt", size: 11 });
    await uploads.chunk(1, bytes("hello "));
    // Nothing visible until the end: only the hidden part file.
    assertEquals(
      (await listing(`${dir}/Uploads`)).filter((n) => !n.startsWith(".")),
      [],
    );
    await uploads.chunk(1, bytes("world"));
    const landed = await uploads.end(1);
    assertEquals(landed.path, `${dir}/Uploads/report.txt`);
    assertEquals(await Deno.readTextFile(landed.path), "hello world");
    assertEquals((await Deno.stat(landed.path)).mode! & 0o777, 0o600);
    await uploads.start(2, { name: "report.txt", size: 1, dialogGuid: "g" });
    await uploads.chunk(2, bytes("x"));
    const second = await uploads.end(2);
    assertEquals(second.path, `${dir}/Uploads/report (1).txt`);
    assertEquals(second.dialogGuid, "g");
    assertEquals(await listing(`${dir}/Uploads`), [
      "report (1).txt",
      "report.txt",
    ]);
  });
});

Deno.test("broken uploads are refused and leave nothing behind", async () => {
  await withTempDir(async (dir) => {
    const uploads = new UploadReceiver({ directory: dir, maxBytes: 10 });
    await assertRejects(
      () => uploads.start(1, { name: "big", size: 11 }),
      UploadError,
      /more than the 10 allowed/,
    );
    await uploads.start(2, { name: "short", size: 5 });
    await uploads.chunk(2, bytes("abc"));
    await assertRejects(() => uploads.end(2), UploadError, /3 of 5 bytes/);
    await uploads.start(3, { name: "long", size: 2 });
    await assertRejects(
      () => uploads.chunk(3, bytes("abc")),
      UploadError,
      /more bytes than the 2 announced/,
    );
    await assertRejects(
      () => uploads.chunk(9, bytes("a")),
      UploadError,
      /no upload 9/,
    );
    await uploads.start(4, { name: "dup", size: 1 });
    await assertRejects(
      () => uploads.start(4, { name: "dup", size: 1 }),
      UploadError,
      /already under way/,
    );
    await uploads.abortAll();
    assertEquals(await listing(dir), []);
  });
});

Deno.test("at most a few uploads at once", async () => {
  await withTempDir(async (dir) => {
    const uploads = new UploadReceiver({ directory: dir });
    for (let i = 0; i < MAX_CONCURRENT_UPLOADS; i++) {
      await uploads.start(i, { name: `f${i}`, size: 1 });
    }
    await assertRejects(
      () => uploads.start(99, { name: "one too many", size: 1 }),
      UploadError,
      /at a time/,
    );
    await uploads.abortAll();
  });
});

Deno.test("safeFileName keeps the last component, without dots or control characters", () => {
  assertEquals(safeFileName("a/b\\c.txt"), "c.txt");
  assertEquals(safeFileName("..hidden"), "hidden");
  assertEquals(safeFileName("bad\u0000\u001fname"), "badname");
  assertEquals(safeFileName(""), "upload");
  assertEquals(safeFileName("../.."), "upload");
  assert(safeFileName("x".repeat(300) + ".pdf").endsWith(".pdf"));
  assertEquals(safeFileName("x".repeat(300)).length, 200);
});

Deno.test("uploads land in the user's home: HOME, or USERPROFILE on Windows", () => {
  assertEquals(
    defaultUploadDirectory({ HOME: "/home/webs01", USERPROFILE: "C:\\x" }),
    "/home/webs01/Uploads",
  );
  assertEquals(
    defaultUploadDirectory({ USERPROFILE: "C:\\Users\\webs01" }),
    "C:\\Users\\webs01/Uploads",
  );
  assertEquals(defaultUploadDirectory({}), "/tmp/Uploads");
});
