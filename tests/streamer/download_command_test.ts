/**
 * `webstream download` over a real Unix socket: the command names the file
 * by its absolute path (a relative one is resolved against its folder), the
 * streamer's answer decides the exit code and what is printed (0 sent, 1
 * refused with the reason), no streamer is exit 3, the socket is private to
 * the session user (0600), and a malformed request is refused naming what
 * was expected while the server keeps serving.
 *
 * @module
 */
import { createLogger } from "../../mod/log/mod.ts";
import type { DownloadOutcome } from "../../mod/streamer/download.ts";
import {
  DOWNLOAD_SOCKET_NAME,
  DownloadCommandServer,
  downloadSocketPath,
  runDownload,
} from "../../mod/streamer/download_command.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";

const logger = createLogger({ format: "json", sink: () => {} });

Deno.test("the command's answer follows the streamer's outcome", async () => {
  await withTempDir(async (dir) => {
    const asked: string[] = [];
    let answer: DownloadOutcome = { ok: true, name: "a.txt", size: 3 };
    const server = new DownloadCommandServer({
      path: `${dir}/dl.sock`,
      logger,
      onRequest: (path) => {
        asked.push(path);
        return Promise.resolve(answer);
      },
    });
    try {
      assertEquals((await Deno.stat(server.path)).mode! & 0o777, 0o600);
      assertEquals(
        await runDownload("sub/a.txt", { path: server.path, cwd: "/work" }),
        { code: 0, text: "sent a.txt (3 bytes)" },
      );
      assertEquals(asked, ["/work/sub/a.txt"]);
      answer = {
        ok: false,
        error: "file download is not allowed in this session",
      };
      assertEquals(
        await runDownload("/abs/b.bin", { path: server.path }),
        { code: 1, text: "file download is not allowed in this session" },
      );
      assertEquals(asked[1], "/abs/b.bin");

      // A malformed request is refused; the server serves the next one.
      const conn = await Deno.connect({ transport: "unix", path: server.path });
      await conn.write(new TextEncoder().encode('{"path":"relative"}\n'));
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      conn.close();
      const refused = JSON.parse(
        new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
      );
      assertEquals(refused.ok, false);
      assertMatch(refused.error, /absolute/);
      assertEquals(asked.length, 2);
      answer = { ok: true, name: "c", size: 0 };
      assertEquals((await runDownload("/c", { path: server.path })).code, 0);
    } finally {
      server.close();
    }
  });
});

Deno.test("without a streamer the command exits 3 naming the socket", async () => {
  await withTempDir(async (dir) => {
    const result = await runDownload("/x", { path: `${dir}/none.sock` });
    assertEquals(result.code, 3);
    assertMatch(
      result.text,
      /no webstream streamer in this session .*none\.sock/,
    );
  });
});

Deno.test("the socket lives in the session's runtime folder", () => {
  assertEquals(
    downloadSocketPath({ XDG_RUNTIME_DIR: "/run/user/1001", HOME: "/h" }),
    `/run/user/1001/${DOWNLOAD_SOCKET_NAME}`,
  );
  assertEquals(
    downloadSocketPath({ HOME: "/h" }),
    `/h/${DOWNLOAD_SOCKET_NAME}`,
  );
  assertEquals(
    downloadSocketPath({ WEBSTREAM_DOWNLOAD_SOCKET: "/s", HOME: "/h" }),
    "/s",
  );
});
