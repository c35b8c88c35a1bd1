/**
 * Headless file dialogs over a real Unix socket, with the real
 * `webstream file-dialog` command (main.ts in a child process): the streamer
 * side hears the request, completing it prints the path (exit 0), cancelling
 * exits 1, no streamer exits 3; the socket is private to its user; a
 * malformed request (or one nested too deep) is answered with an error and
 * nothing else changes;
 * over loopback TCP (Windows has no Unix sockets in Deno) the rendezvous
 * file is private and a request without the secret is refused.
 *
 * @module
 */
import { createLogger } from "../../mod/log/mod.ts";
import {
  defaultFileDialogTransport,
  FILE_DIALOG_SOCKET_ENV,
  FILE_DIALOG_SOCKET_NAME,
  FileDialogServer,
  fileDialogSocketPath,
  type PendingDialog,
  runFileDialog,
} from "../../mod/streamer/file_dialog.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";

const logger = createLogger({ format: "json", sink: () => {} });
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function fileDialogProcess(socket: string, args: string[] = []) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", MAIN, "file-dialog", ...args],
    env: { [FILE_DIALOG_SOCKET_ENV]: socket, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("the socket path comes from the environment", () => {
  assertEquals(
    fileDialogSocketPath({ [FILE_DIALOG_SOCKET_ENV]: "/x/s.sock" }),
    "/x/s.sock",
  );
  assertEquals(
    fileDialogSocketPath({ XDG_RUNTIME_DIR: "/run/u", HOME: "/home/u" }),
    `/run/u/${FILE_DIALOG_SOCKET_NAME}`,
  );
  assertEquals(
    fileDialogSocketPath({ HOME: "/home/u" }),
    `/home/u/${FILE_DIALOG_SOCKET_NAME}`,
  );
  // Windows has no HOME: the profile folder.
  assertEquals(
    fileDialogSocketPath({ USERPROFILE: "C:\\Users\\webs01" }),
    `C:\\Users\\webs01/${FILE_DIALOG_SOCKET_NAME}`,
  );
});

Deno.test("webstream file-dialog prints the landed path; cancel exits 1", async () => {
  await withTempDir(async (dir) => {
    const requests: PendingDialog[] = [];
    const server = new FileDialogServer({
      path: `${dir}/dialog.sock`,
      logger,
      onRequest: (d) => requests.push(d),
    });
    try {
      assertEquals((await Deno.stat(server.path)).mode! & 0o777, 0o600);
      const child = fileDialogProcess(server.path, ["-title", "Pick a CSV"]);
      await waitFor(() => requests.length === 1, { what: "the request" });
      assertEquals(requests[0].title, "Pick a CSV");
      assertMatch(requests[0].dialogGuid, /^[0-9a-f-]{36}$/);
      assertEquals(server.pending().length, 1);
      assert(server.has(requests[0].dialogGuid));
      assert(server.complete(requests[0].dialogGuid, "/home/u/Uploads/a.csv"));
      const out = await child.output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertEquals(
        new TextDecoder().decode(out.stdout),
        "/home/u/Uploads/a.csv\n",
      );
      assertEquals(server.pending().length, 0);
      // Completing twice does nothing.
      assertEquals(server.complete(requests[0].dialogGuid, "/x"), false);

      const cancelled = fileDialogProcess(server.path);
      await waitFor(() => requests.length === 2, {
        what: "the second request",
      });
      assertEquals(requests[1].title, "Choose a file to upload");
      server.cancel(requests[1].dialogGuid, "cancelled by the user");
      const out2 = await cancelled.output();
      assertEquals(out2.code, 1);
      assertMatch(
        new TextDecoder().decode(out2.stderr),
        /cancelled by the user/,
      );
    } finally {
      server.close();
    }
    // The socket is gone with the server.
    assertEquals(await Deno.stat(`${dir}/dialog.sock`).catch(() => null), null);
  });
});

Deno.test("no streamer: exit 3; a dialog that goes away is forgotten", async () => {
  await withTempDir(async (dir) => {
    const none = await runFileDialog({ path: `${dir}/missing.sock` });
    assertEquals(none.code, 3);
    assertMatch(none.error!, /no webstream streamer/);
    const requests: PendingDialog[] = [];
    const server = new FileDialogServer({
      path: `${dir}/dialog.sock`,
      logger,
      onRequest: (d) => requests.push(d),
    });
    try {
      // The dialog times out (1 s) and leaves; the server forgets it.
      const result = await runFileDialog({ path: server.path, timeout: 1 });
      assertEquals(result.code, 3);
      await waitFor(() => server.pending().length === 0, {
        what: "the dialog forgotten",
      });
      // A malformed request gets an error; the server keeps serving.
      const conn = await Deno.connect({ transport: "unix", path: server.path });
      await conn.write(new TextEncoder().encode("not json\n"));
      const buf = new Uint8Array(200);
      const n = await conn.read(buf);
      assertMatch(new TextDecoder().decode(buf.subarray(0, n!)), /"error"/);
      conn.close();
      // So does one nested too deep, refused before it is parsed.
      const deep = await Deno.connect({ transport: "unix", path: server.path });
      await deep.write(
        new TextEncoder().encode("[".repeat(2000) + "]".repeat(2000) + "\n"),
      );
      const m = await deep.read(buf);
      assertEquals(
        JSON.parse(new TextDecoder().decode(buf.subarray(0, m!))),
        { error: "JSON nested deeper than 64 levels" },
      );
      deep.close();
      const closing = runFileDialog({ path: server.path });
      await waitFor(() => requests.length === 2, { what: "a later request" });
      server.close();
      assertEquals((await closing).code, 1);
    } finally {
      server.close();
    }
  });
});

Deno.test("over loopback TCP (Windows' transport): a private rendezvous file and a secret", async () => {
  assertEquals(defaultFileDialogTransport("windows"), "tcp");
  assertEquals(defaultFileDialogTransport("linux"), "unix");
  await withTempDir(async (dir) => {
    const requests: PendingDialog[] = [];
    const server = new FileDialogServer({
      path: `${dir}/dialog.sock`,
      transport: "tcp",
      logger,
      onRequest: (d) => requests.push(d),
    });
    try {
      const info = await Deno.stat(server.path);
      assert(info.isFile, "a rendezvous file, not a socket");
      assertEquals(info.mode! & 0o777, 0o600);
      const { port, secret } = JSON.parse(await Deno.readTextFile(server.path));
      assert(Number.isInteger(port) && port > 0);
      assertMatch(secret, /^[0-9a-f]{48}$/);

      // The real command finds the port and proves it knows the secret.
      const child = fileDialogProcess(server.path, ["-title", "Pick"]);
      await waitFor(() => requests.length === 1, { what: "the request" });
      assertEquals(requests[0].title, "Pick");
      server.complete(requests[0].dialogGuid, "C:/Users/webs01/Uploads/a.txt");
      const out = await child.output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertEquals(
        new TextDecoder().decode(out.stdout),
        "C:/Users/webs01/Uploads/a.txt\n",
      );

      // Another local user can reach the port, but not without the secret.
      for (
        const request of [{ title: "x" }, {
          title: "x",
          secret: "0".repeat(48),
        }]
      ) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(
          new TextEncoder().encode(JSON.stringify(request) + "\n"),
        );
        const buf = new Uint8Array(200);
        const n = await conn.read(buf);
        assertMatch(
          new TextDecoder().decode(buf.subarray(0, n!)),
          /wrong or missing secret/,
        );
        conn.close();
      }
      assertEquals(requests.length, 1, "refused requests open no dialog");
    } finally {
      server.close();
    }
    // The rendezvous file is gone with the server.
    assertEquals(await Deno.stat(`${dir}/dialog.sock`).catch(() => null), null);
  });
});
