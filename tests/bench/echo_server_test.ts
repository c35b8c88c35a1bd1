/**
 * The proxy benchmark's target as a streamer (`/frames`): frames numbered
 * from 0 and held back by the streamer's window, as acknowledgements (with
 * the frame's number) open it; `?window=fixed` keeps two in flight.
 *
 * @module
 */
import { echoHandler, STREAM_FRAME_BYTES } from "../../bench/echo_server.ts";
import { encodeClientMessage } from "../../httpdocs/session/protocol.js";
import { assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";

Deno.test("/frames?window=fixed: two frames in flight until one is acknowledged", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    echoHandler,
  );
  const socket = new WebSocket(
    `ws://127.0.0.1:${server.addr.port}/frames?window=fixed`,
  );
  socket.binaryType = "arraybuffer";
  const frames: ArrayBuffer[] = [];
  socket.onmessage = (event) => frames.push(event.data);
  try {
    await waitFor(() => frames.length === 2, { what: "two frames" });
    // Nothing more comes without an acknowledgement.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assertEquals(
      frames.map((f) => f.byteLength),
      STREAM_FRAME_BYTES.slice(0, 2),
    );
    // An acknowledgement of a frame not sent changes nothing.
    socket.send(encodeClientMessage({ type: "ack", frameId: 7 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assertEquals(frames.length, 2);
    // Frame 0 drawn: one more.
    socket.send(encodeClientMessage({ type: "ack", frameId: 0 }));
    await waitFor(() => frames.length === 3, { what: "a third frame" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assertEquals(frames.length, 3);
  } finally {
    socket.close();
    await server.shutdown();
  }
});
