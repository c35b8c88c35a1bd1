/**
 * The session manager's control socket handler over real loopback
 * WebSockets: identification, delivery to the directory, and that every kind
 * of bad input closes only the offending connection.
 */
import {
  acceptControlSocket,
  type AttachResult,
  isLocalAddress,
  isLoopback,
  type LinkClosed,
  type PeerVerifier,
  type StreamerDirectory,
  type StreamerLink,
  type StreamerMessage,
} from "../../mod/control/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { openSocket, type TestSocket } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const quiet = createLogger({ sink: () => {} });

interface Recorder extends StreamerDirectory {
  attached: StreamerLink[];
  messages: StreamerMessage[];
  detached: StreamerLink[];
  closes: (LinkClosed | undefined)[];
}

function recorder(
  accept = (link: StreamerLink): AttachResult =>
    link.username === "webs01"
      ? {
        ok: true,
        reply: {
          type: "SESSION_INFO",
          sessionUuid: UUID,
          commandLineParams: "",
        },
      }
      : { ok: false, reason: `unknown pool account ${link.username}` },
): Recorder {
  const r: Recorder = {
    attached: [],
    messages: [],
    detached: [],
    closes: [],
    attach(link) {
      const result = accept(link);
      if (result.ok) r.attached.push(link);
      return result;
    },
    message(_link, message) {
      r.messages.push(message);
    },
    detach(link, closed) {
      r.detached.push(link);
      r.closes.push(closed);
    },
  };
  return r;
}

async function withServer(
  directory: StreamerDirectory,
  options: { verifyPeer?: PeerVerifier; identifyTimeoutMs?: number },
  fn: (url: string, peers: Deno.NetAddr[]) => Promise<void>,
): Promise<void> {
  const peers: Deno.NetAddr[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req, info) => {
    // The peer address is gone once the request is upgraded: read it first.
    const peer = info.remoteAddr;
    peers.push(peer);
    const { socket, response } = Deno.upgradeWebSocket(req);
    acceptControlSocket(socket, { directory, peer, logger: quiet, ...options });
    return response;
  });
  try {
    await fn(`ws://127.0.0.1:${server.addr.port}/control`, peers);
  } finally {
    await server.shutdown();
  }
}

async function expectClosed(ws: TestSocket, reason: RegExp): Promise<void> {
  const event = await ws.closed;
  assertEquals(event.code, 1008);
  assertMatch(event.reason, reason);
}

Deno.test("a streamer identifies, gets its reply, and its messages reach the directory", async () => {
  const directory = recorder();
  await withServer(directory, {}, async (url) => {
    const ws = await openSocket(url);
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    assertEquals(await ws.next(), `SESSION_INFO:${UUID}|`);
    assertEquals(directory.attached.map((l) => l.username), ["webs01"]);
    ws.socket.send(`CLIENT_CONNECTED:${UUID}`);
    await waitFor(() => directory.messages.length === 1);
    assertEquals(directory.messages[0], {
      type: "CLIENT_CONNECTED",
      sessionUuid: UUID,
    });
    // The link sends manager messages encoded.
    directory.attached[0].send({
      type: "FILE_UPLOAD_COMPLETE",
      dialogGuid: UUID,
      filePath: "/home/webs01/a.txt",
    });
    assertEquals(
      await ws.next(),
      `FILE_UPLOAD_COMPLETE:${UUID}|/home/webs01/a.txt`,
    );
    await ws.close();
    await waitFor(() => directory.detached.length === 1);
    assertEquals(directory.detached[0], directory.attached[0]);
  });
});

Deno.test("bad first messages close the connection and leave the directory untouched", async () => {
  const directory = recorder();
  await withServer(directory, {}, async (url) => {
    const cases: [string | Uint8Array, RegExp][] = [
      ["hello", /malformed/],
      [new Uint8Array([1, 2, 3]), /malformed.*text/],
      [`CLIENT_CONNECTED:${UUID}`, /expected REQUEST_SESSION_INFO first/],
      [`SESSION_INFO:${UUID}|x`, /malformed.*not sent by the streamer/],
      ["REQUEST_SESSION_INFO:nosuch", /unknown pool account nosuch/],
    ];
    for (const [data, reason] of cases) {
      const ws = await openSocket(url);
      ws.socket.send(data);
      await expectClosed(ws, reason);
    }
    assertEquals(directory.attached.length, 0);
    assertEquals(directory.messages.length, 0);
    assertEquals(directory.detached.length, 0);
  });
});

Deno.test("an identified streamer that misbehaves is cut off and detached", async () => {
  const directory = recorder();
  await withServer(directory, {}, async (url) => {
    const ws = await openSocket(url);
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    await ws.next();
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    await expectClosed(ws, /already identified/);
    await waitFor(() => directory.detached.length === 1);
    const again = await openSocket(url);
    again.socket.send("REQUEST_SESSION_INFO:webs01");
    await again.next();
    again.socket.send("TOKEN_ARMED:nothex");
    await expectClosed(again, /malformed/);
    await waitFor(() => directory.detached.length === 2);
  });
});

Deno.test("the peer check decides, and a failing check is a refusal", async () => {
  const directory = recorder();
  const seen: string[] = [];
  const verifyPeer: PeerVerifier = (username, peer) => {
    seen.push(`${username}@${peer.hostname}`);
    if (username === "webs01") return Promise.resolve(false);
    return Promise.reject(new Error("lookup failed"));
  };
  await withServer(directory, { verifyPeer }, async (url) => {
    const ws = await openSocket(url);
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    await expectClosed(ws, /does not run as pool account webs01/);
    const other = await openSocket(url);
    other.socket.send("REQUEST_SESSION_INFO:webs02");
    await expectClosed(other, /does not run as pool account webs02/);
  });
  assertEquals(seen, ["webs01@127.0.0.1", "webs02@127.0.0.1"]);
  assertEquals(directory.attached.length, 0);
});

Deno.test("a streamer that never identifies is closed", async () => {
  await withServer(recorder(), { identifyTimeoutMs: 100 }, async (url) => {
    const ws = await openSocket(url);
    await expectClosed(ws, /did not identify in time/);
  });
});

Deno.test("isLoopback knows the loopback spellings", () => {
  for (
    const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"]
  ) {
    assert(isLoopback(host), host);
  }
  for (
    const host of [
      "10.0.0.1",
      "192.168.1.1",
      "::",
      "0.0.0.0",
      "::ffff:10.0.0.1",
      "localhost.evil",
      "",
    ]
  ) {
    assert(!isLoopback(host), host);
  }
});

Deno.test("isLocalAddress accepts this machine's own addresses only", () => {
  for (const { address } of Deno.networkInterfaces()) {
    assert(isLocalAddress(address), address);
  }
  assert(isLocalAddress("127.0.0.1"));
  for (const host of ["192.0.2.10", "198.51.100.7", "2001:db8::1"]) {
    assert(!isLocalAddress(host), host);
  }
});

Deno.test("a reconnecting streamer names its session; 'not now' closes with 1013; the close code reaches detach", async () => {
  let starting = true;
  const directory = recorder((link) =>
    starting
      ? { ok: false, reason: "the pool is starting", retry: true }
      : link.resumes === UUID
      ? {
        ok: true,
        reply: {
          type: "SESSION_INFO",
          sessionUuid: UUID,
          commandLineParams: "",
        },
      }
      : { ok: false, reason: "no such session" }
  );
  await withServer(directory, {}, async (url) => {
    const early = await openSocket(url);
    early.socket.send(`RESUME_SESSION:webs01|${UUID}`);
    const refused = await early.closed;
    assertEquals(refused.code, 1013);
    assertEquals(refused.reason, "the pool is starting");
    starting = false;
    const ws = await openSocket(url);
    ws.socket.send(`RESUME_SESSION:webs01|${UUID}`);
    assertEquals(await ws.next(), `SESSION_INFO:${UUID}|`);
    assertEquals(directory.attached[0].resumes, UUID);
    assertEquals(directory.attached[0].username, "webs01");
    ws.socket.send(`RESUME_SESSION:webs01|${UUID}`);
    await expectClosed(ws, /already identified/);
    await waitFor(() => directory.detached.length === 1);
    assertEquals(directory.closes[0]?.code, 1008);
    const fresh = await openSocket(url);
    fresh.socket.send("REQUEST_SESSION_INFO:webs01");
    await expectClosed(fresh, /no such session/);
    const other = await openSocket(url);
    other.socket.send(`RESUME_SESSION:webs01|${UUID}`);
    await other.next();
    assertEquals(directory.attached[1].resumes, UUID);
    other.socket.close(4403, "licence refused");
    await waitFor(() => directory.detached.length === 2);
    assertEquals(directory.closes[1], {
      code: 4403,
      reason: "licence refused",
    });
  });
});
