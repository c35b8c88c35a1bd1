/**
 * Tests for `mod/streamer/control_channel.ts` against a session manager
 * played by the test over a real loopback WebSocket: the channel identifies
 * itself on open, hands each manager message to the handler for its type,
 * sends the streamer's messages, closes with 4008 on a malformed message,
 * and reports how it closed. Through a relay the test cuts (the manager's
 * process "dies"), a channel with an identity reconnects and sends
 * `RESUME_SESSION`, retries after 1013, and ends as orphaned when the
 * manager stays gone past the orphan timeout or refuses the session.
 *
 * @module
 */
import { encodeControl, type ManagerMessage } from "../../mod/control/codec.ts";
import {
  ControlChannel,
  type ControlHandlers,
  reconnects,
} from "../../mod/streamer/control_channel.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { startTcpCutter, type TcpCutter } from "../support/tcp_cutter.ts";
import { waitFor } from "../support/wait.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const HASH = "ab".repeat(32);

/** A session manager on loopback: what it received, and its socket. */
function manager(): {
  url: string;
  received: string[];
  socket: () => WebSocket;
  stop(): Promise<void>;
} {
  const received: string[] = [];
  let socket: WebSocket | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const upgraded = Deno.upgradeWebSocket(request);
      upgraded.socket.onmessage = (event) => received.push(String(event.data));
      socket = upgraded.socket;
      return upgraded.response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/control`,
    received,
    socket: () => socket!,
    stop: () => server.shutdown(),
  };
}

/** Handlers that record every message they get, in order. */
function recording(seen: ManagerMessage[]): ControlHandlers {
  const record = (message: ManagerMessage) => void seen.push(message);
  return {
    SESSION_INFO: record,
    VIEWER_SETTINGS: record,
    CONNECTION_TOKEN: record,
    FILE_UPLOAD_COMPLETE: record,
    SESSION_IN_USE: record,
  };
}

/** A channel to a fresh manager, once the manager has its request. */
async function connected(): Promise<{
  m: ReturnType<typeof manager>;
  channel: ControlChannel;
  seen: ManagerMessage[];
  records: Record<string, unknown>[];
}> {
  const m = manager();
  const seen: ManagerMessage[] = [];
  const { logger, records } = captureLogs();
  const channel = new ControlChannel(m.url, {
    username: "webs01",
    handlers: recording(seen),
    logger,
  });
  await waitFor(() => m.received.length === 1, { what: "the request" });
  return { m, channel, seen, records };
}

Deno.test("the control channel identifies itself, dispatches by type and sends", async () => {
  const { m, channel, seen } = await connected();
  try {
    assertEquals(m.received, ["REQUEST_SESSION_INFO:webs01"]);
    const messages: ManagerMessage[] = [
      { type: "SESSION_INFO", sessionUuid: UUID, commandLineParams: "xterm" },
      { type: "VIEWER_SETTINGS", sessionUuid: UUID, settings: "{}" },
      {
        type: "CONNECTION_TOKEN",
        sessionUuid: UUID,
        tokenHash: HASH,
        ttlSeconds: 30,
      },
      {
        type: "FILE_UPLOAD_COMPLETE",
        dialogGuid: crypto.randomUUID(),
        filePath: "/home/webs01/Uploads/a.txt",
      },
    ];
    for (const message of messages) m.socket().send(encodeControl(message));
    await waitFor(() => seen.length === messages.length, {
      what: "every message handled",
    });
    assertEquals(seen, messages);

    channel.send({ type: "TOKEN_ARMED", tokenHash: HASH });
    channel.send({ type: "CLIENT_CONNECTED", sessionUuid: UUID });
    await waitFor(() => m.received.length === 3, { what: "two messages" });
    assertEquals(m.received.slice(1), [
      `TOKEN_ARMED:${HASH}`,
      `CLIENT_CONNECTED:${UUID}`,
    ]);

    m.socket().close(1000, "bye");
    assertEquals(await channel.closed, {
      code: 1000,
      reason: "bye",
      orphaned: false,
    });
    // Once closed, sending is a no-op.
    channel.send({ type: "CLIENT_DISCONNECTED", sessionUuid: UUID });
  } finally {
    await m.stop();
  }
});

Deno.test("a malformed or misdirected message closes the channel with 4008", async () => {
  for (const text of ["SESSION_INFO:not-a-uuid|x", `TOKEN_ARMED:${HASH}`]) {
    const { m, channel, seen, records } = await connected();
    try {
      m.socket().send(text);
      assertEquals(await channel.closed, {
        code: 4008,
        reason: "malformed message",
        orphaned: false,
      });
      assertEquals(seen, []);
      assertEquals(
        records.filter((r) => r.msg === "malformed control message").length,
        1,
      );
    } finally {
      await m.stop();
    }
  }
});

Deno.test("the streamer can close the channel itself", async () => {
  const { m, channel } = await connected();
  try {
    channel.close(4011, "streamer cannot listen");
    assertEquals(await channel.closed, {
      code: 4011,
      reason: "streamer cannot listen",
      orphaned: false,
    });
  } finally {
    await m.stop();
  }
});

/**
 * A manager reached through a relay the test can cut: what the streamer
 * sees when the session manager's process dies.
 */
function behindCutter(): {
  m: ReturnType<typeof manager>;
  cutter: TcpCutter;
  url: string;
} {
  const m = manager();
  const cutter = startTcpCutter(Number(new URL(m.url).port));
  return { m, cutter, url: `ws://127.0.0.1:${cutter.port}/control` };
}

Deno.test("a dropped channel reconnects and names its session with RESUME_SESSION", async () => {
  const { m, cutter, url } = behindCutter();
  const seen: ManagerMessage[] = [];
  const { logger, records } = captureLogs();
  let resumed = 0;
  const channel = new ControlChannel(url, {
    username: "webs01",
    handlers: recording(seen),
    logger,
    resumeAs: () => UUID,
    orphanTimeoutMs: 30_000,
    onResumed: () => resumed++,
    retry: { minMs: 20, maxMs: 100 },
  });
  try {
    await waitFor(() => m.received.length === 1, { what: "the request" });
    assertEquals(m.received, ["REQUEST_SESSION_INFO:webs01"]);
    cutter.cut();
    await waitFor(() => m.received.length === 2, { what: "the resume" });
    assertEquals(m.received[1], `RESUME_SESSION:webs01|${UUID}`);
    assertEquals(resumed, 0, "not resumed before the manager answers");
    m.socket().send(
      encodeControl({
        type: "SESSION_INFO",
        sessionUuid: UUID,
        commandLineParams: "",
      }),
    );
    await waitFor(() => resumed === 1, { what: "onResumed" });
    assert(channel.connected);
    channel.send({ type: "CLIENT_CONNECTED", sessionUuid: UUID });
    await waitFor(() => m.received.length === 3, { what: "a message" });
    assertEquals(m.received[2], `CLIENT_CONNECTED:${UUID}`);
    assert(records.some((r) => r.msg === "control channel lost; reconnecting"));
    // A close the manager means still ends the channel.
    m.socket().close(1000, "recycled");
    assertEquals(await channel.closed, {
      code: 1000,
      reason: "recycled",
      orphaned: false,
    });
  } finally {
    cutter.close();
    await m.stop();
  }
});

Deno.test("a manager gone for the orphan timeout leaves the channel orphaned", async () => {
  const { m, cutter, url } = behindCutter();
  const { logger } = captureLogs();
  const channel = new ControlChannel(url, {
    username: "webs01",
    handlers: recording([]),
    logger,
    resumeAs: () => UUID,
    orphanTimeoutMs: 500,
    retry: { minMs: 20, maxMs: 100 },
  });
  try {
    await waitFor(() => m.received.length === 1, { what: "the request" });
    cutter.pause(); // nothing listens any more
    cutter.cut();
    const closed = await channel.closed;
    assertEquals(closed.orphaned, true);
    assert(cutter.connections() === 1, "refused attempts reach no manager");
  } finally {
    cutter.close();
    await m.stop();
  }
});

Deno.test("'try again later' is retried; a refused resume is orphaned", async () => {
  const { m, cutter, url } = behindCutter();
  const { logger } = captureLogs();
  const channel = new ControlChannel(url, {
    username: "webs01",
    handlers: recording([]),
    logger,
    resumeAs: () => UUID,
    orphanTimeoutMs: 30_000,
    retry: { minMs: 20, maxMs: 100 },
  });
  try {
    await waitFor(() => m.received.length === 1, { what: "the request" });
    cutter.cut();
    await waitFor(() => m.received.length === 2, { what: "a resume" });
    m.socket().close(1013, "the pool is starting");
    await waitFor(() => m.received.length === 3, { what: "another resume" });
    assertEquals(m.received.slice(1), [
      `RESUME_SESSION:webs01|${UUID}`,
      `RESUME_SESSION:webs01|${UUID}`,
    ]);
    m.socket().close(1008, `no session ${UUID} on this host`);
    assertEquals(await channel.closed, {
      code: 1008,
      reason: `no session ${UUID} on this host`,
      orphaned: true,
    });
  } finally {
    cutter.close();
    await m.stop();
  }
});

Deno.test("without an identity yet, a dropped channel just ends", async () => {
  const { m, cutter, url } = behindCutter();
  const { logger } = captureLogs();
  const channel = new ControlChannel(url, {
    username: "webs01",
    handlers: recording([]),
    logger,
    resumeAs: () => undefined,
  });
  try {
    await waitFor(() => m.received.length === 1, { what: "the request" });
    cutter.cut();
    const closed = await channel.closed;
    assertEquals(closed.orphaned, false);
    // No close frame: Deno says 0 (browsers 1006); either would be retried.
    assertEquals(reconnects(closed.code), true, `${closed.code} is retried`);
    assertEquals(reconnects(1006), true);
    for (const code of [1000, 1001, 1008, 4403]) {
      assertEquals(reconnects(code), false, `${code} is meant`);
    }
  } finally {
    cutter.close();
    await m.stop();
  }
});
