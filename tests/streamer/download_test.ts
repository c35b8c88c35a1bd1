/**
 * Downloads from a real file: the bytes arrive whole and in order, in
 * chunks no larger than the protocol allows; no more than the window waits
 * for acknowledgements (so a file is never read ahead of the viewer); a
 * full socket holds the reading back; a file over the cap is refused before
 * anything is sent; a cancel, a viewer leaving or a stalled viewer fail the
 * download saying why; missing files and folders are refused.
 *
 * @module
 */
import {
  MAX_DOWNLOAD_CHUNK,
  type StreamerMessage,
} from "../../httpdocs/session/protocol.js";
import {
  downloadName,
  DownloadSender,
  type DownloadSenderOptions,
} from "../../mod/streamer/download.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

/** A sender whose messages are recorded; `autoAck` acknowledges each chunk. */
function recorder(
  options: Partial<DownloadSenderOptions> & { autoAck?: boolean } = {},
) {
  const messages: StreamerMessage[] = [];
  const sender: DownloadSender = new DownloadSender({
    maxBytes: 1 << 30,
    buffered: () => 0,
    ...options,
    send: (message) => {
      messages.push(message);
      if (options.autoAck && message.type === "downloadChunk") {
        const chunks = messages.filter((m) =>
          m.type === "downloadChunk" && m.downloadId === message.downloadId
        ).length;
        queueMicrotask(() =>
          sender.ack(message.downloadId, chunks)
        );
      }
    },
  });
  const chunks = () =>
    messages.filter((m) => m.type === "downloadChunk") as Extract<
      StreamerMessage,
      { type: "downloadChunk" }
    >[];
  return { sender, messages, chunks };
}

Deno.test("a file arrives whole, in order, in protocol-sized chunks", async () => {
  await withTempDir(async (dir) => {
    const bytes = pattern(3 * MAX_DOWNLOAD_CHUNK + 12345);
    await Deno.writeFile(`${dir}/data.bin`, bytes);
    const { sender, messages, chunks } = recorder({ autoAck: true });
    const outcome = await sender.send({
      path: `${dir}/data.bin`,
      kind: "file",
    });
    assertEquals(outcome, { ok: true, name: "data.bin", size: bytes.length });
    assertEquals(messages[0], {
      type: "downloadStart",
      download: {
        downloadId: 1,
        name: "data.bin",
        size: bytes.length,
        kind: "file",
      },
    });
    assertEquals(messages.at(-1), {
      type: "downloadEnd",
      end: { downloadId: 1, ok: true },
    });
    const got = new Uint8Array(bytes.length);
    let at = 0;
    for (const chunk of chunks()) {
      assert(chunk.data.length <= MAX_DOWNLOAD_CHUNK);
      got.set(chunk.data, at);
      at += chunk.data.length;
    }
    assertEquals(at, bytes.length);
    assert(got.every((b, i) => b === bytes[i]), "the same bytes");
    assertEquals(sender.activeCount, 0);
  });
});

Deno.test("no more than the window waits for acknowledgements", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/big.bin`, pattern(10 * MAX_DOWNLOAD_CHUNK));
    const { sender, chunks } = recorder({ window: 3 });
    const done = sender.send({ path: `${dir}/big.bin`, kind: "file" });
    await waitFor(() => chunks().length === 3, { what: "three chunks" });
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(chunks().length, 3, "the sender waits for an ack");
    sender.ack(1, 2);
    await waitFor(() => chunks().length === 5, { what: "two more chunks" });
    // An ack beyond what was sent counts only what was sent.
    sender.ack(1, 100);
    await waitFor(() => chunks().length === 8, { what: "three more chunks" });
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(chunks().length, 8);
    sender.ack(1, 8);
    await waitFor(() => chunks().length === 10, { what: "the last chunks" });
    sender.ack(1, 10);
    assertEquals((await done).ok, true);
  });
});

Deno.test("a full socket holds the reading back", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/big.bin`, pattern(4 * MAX_DOWNLOAD_CHUNK));
    let buffered = 10 << 20;
    const { sender, chunks } = recorder({
      autoAck: true,
      buffered: () => buffered,
    });
    const done = sender.send({ path: `${dir}/big.bin`, kind: "file" });
    await new Promise((r) => setTimeout(r, 150));
    assertEquals(chunks().length, 0);
    buffered = 0;
    assertEquals((await done).ok, true);
    assertEquals(chunks().length, 4);
  });
});

Deno.test("a file over the cap is refused before anything is sent", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/huge.iso`, pattern(1001));
    const { sender, messages } = recorder({ maxBytes: 1000 });
    const outcome = await sender.send({
      path: `${dir}/huge.iso`,
      kind: "file",
    });
    assert(!outcome.ok);
    assertMatch(
      outcome.error,
      /huge\.iso is 1001 bytes, more than this session's download limit of 1000 bytes/,
    );
    assertEquals(messages, []);
  });
});

Deno.test("cancel, a departed viewer and a stalled one fail the download", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/f.bin`, pattern(4 * MAX_DOWNLOAD_CHUNK));
    const a = recorder({ window: 1 });
    const cancelled = a.sender.send({ path: `${dir}/f.bin`, kind: "file" });
    await waitFor(() => a.chunks().length === 1, { what: "a chunk" });
    a.sender.cancel(1);
    assertEquals(await cancelled, {
      ok: false,
      error: "cancelled in the browser",
    });
    assertEquals(a.messages.at(-1), {
      type: "downloadEnd",
      end: { downloadId: 1, ok: false, error: "cancelled in the browser" },
    });

    const b = recorder({ window: 1 });
    const left = b.sender.send({ path: `${dir}/f.bin`, kind: "print" });
    await waitFor(() => b.chunks().length === 1, { what: "a chunk" });
    b.sender.close();
    assertEquals(await left, { ok: false, error: "the browser disconnected" });
    assertEquals(
      await b.sender.send({ path: `${dir}/f.bin`, kind: "file" }),
      { ok: false, error: "the browser disconnected" },
    );

    const c = recorder({ window: 1, stallMs: 100 });
    const stalled = await c.sender.send({ path: `${dir}/f.bin`, kind: "file" });
    assertEquals(stalled, {
      ok: false,
      error: "the browser stopped acknowledging",
    });
  });
});

Deno.test("missing files and folders are refused naming the path", async () => {
  await withTempDir(async (dir) => {
    const { sender, messages } = recorder();
    const missing = await sender.send({ path: `${dir}/nope`, kind: "file" });
    assert(!missing.ok);
    assertMatch(missing.error, /cannot read .*nope/);
    const folder = await sender.send({ path: dir, kind: "file" });
    assert(!folder.ok);
    assertMatch(folder.error, /not a regular file/);
    assertEquals(messages, []);
  });
});

Deno.test("download names are the last path component, clean and bounded", () => {
  assertEquals(downloadName("/home/u/Downloads/report.pdf"), "report.pdf");
  assertEquals(downloadName("/tmp/a\u0007b.txt"), "ab.txt");
  assertEquals(downloadName("/tmp/"), "download");
  const long = downloadName(`/x/${"n".repeat(300)}.tar.gz`);
  assertEquals(long.length, 255);
  assert(long.endsWith(".gz"));
});
