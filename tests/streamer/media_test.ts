/**
 * The screen pipeline on a real Xvfb with the real capture and encoder:
 * frames carry exactly the pixels drawn; only changed tiles follow; a viewer
 * that stops acknowledging gets at most `maxInFlight` frames however much the
 * screen changes (no queue grows), and after acknowledging gets one newer
 * frame with the latest pixels; the viewport clips what is sent.
 *
 * @module
 */
import { decodeStreamerMessage } from "../../httpdocs/session/protocol.js";
import { openX11Capture } from "../../mod/devices/linux/x11_capture.ts";
import { TileEncoder } from "../../mod/streamer/encode/mod.ts";
import { boundingBox, MediaStream } from "../../mod/streamer/media.ts";
import { decode as decodePng } from "fast-png";
import { assert, assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";
import { Painter, withXvfb } from "../support/x11_draw.ts";

type Frame = {
  frameId: number;
  tiles: {
    x: number;
    y: number;
    width: number;
    height: number;
    encoding: number;
    data: Uint8Array;
  }[];
};

/** The RGB of pixel (x, y) as a frame's tiles show it (PNG or solid). */
function pixelAt(frames: Frame[], x: number, y: number): number | undefined {
  let found: number | undefined;
  for (const frame of frames) {
    for (const t of frame.tiles) {
      if (x < t.x || y < t.y || x >= t.x + t.width || y >= t.y + t.height) {
        continue;
      }
      if (t.encoding === 2) {
        found = (t.data[0] << 16) | (t.data[1] << 8) | t.data[2];
      } else if (t.encoding === 1) {
        found = pngPixel(t.data, x - t.x, y - t.y);
      }
    }
  }
  return found;
}

/** Pixel (x, y) of a PNG as 0xRRGGBB, palette and bit depth handled. */
function pngPixel(bytes: Uint8Array, x: number, y: number): number {
  const png = decodePng(bytes);
  const d = png.data as Uint8Array;
  if (png.palette) {
    const bits = png.depth;
    const perByte = 8 / bits;
    const rowBytes = Math.ceil(png.width / perByte);
    const byte = d[y * rowBytes + Math.floor(x / perByte)];
    const shift = 8 - bits * (1 + (x % perByte));
    const index = (byte >> shift) & ((1 << bits) - 1);
    const [r, g, b] = png.palette[index];
    return (r << 16) | (g << 8) | b;
  }
  const i = (y * png.width + x) * png.channels;
  return (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
}

/** The real capture, encoder and a painter on a fresh Xvfb of `size`. */
interface Pipeline {
  capture: ReturnType<typeof openX11Capture>;
  encoder: TileEncoder;
  painter: Painter;
}

/** Runs `fn` with a {@linkcode Pipeline}, closed after it. */
function withPipeline(
  size: { width: number; height: number },
  fn: (pipeline: Pipeline) => Promise<void>,
): Promise<void> {
  return withXvfb(size, async (screen) => {
    const capture = openX11Capture({ display: screen.display });
    const encoder = new TileEncoder({ workers: 0 });
    const painter = new Painter(screen.display);
    try {
      await fn({ capture, encoder, painter });
    } finally {
      encoder.close();
      painter.display.close();
      capture.close();
    }
  });
}

Deno.test({
  name:
    "frames carry the drawn pixels; a viewer that stops acknowledging gets no queue",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPipeline({ width: 640, height: 480 }, async (pipeline) => {
      const { capture, encoder, painter } = pipeline;
      const frames: Frame[] = [];
      const media = new MediaStream({
        capture,
        encoder,
        send: (bytes) => {
          const message = decodeStreamerMessage(bytes);
          if (message.type === "frame") frames.push(message.frame);
        },
        buffered: () => 0,
        maxInFlight: 2,
        pollRate: 100,
      });
      try {
        painter.fill({ x: 0, y: 0, width: 640, height: 480 }, 0x336699);
        media.start();
        await waitFor(() => frames.length >= 1, { what: "the first frame" });
        const covered = boundingBox(frames[0].tiles);
        assertEquals(covered, { x: 0, y: 0, width: 640, height: 480 });
        assertEquals(pixelAt(frames, 10, 10), 0x336699);
        media.ack(frames[0].frameId);

        // A small change: only the tiles it touches are sent.
        painter.fill({ x: 100, y: 100, width: 10, height: 10 }, 0xff0000);
        await waitFor(() => frames.length >= 2, { what: "the change" });
        const changed = frames[1].tiles;
        assertEquals(changed.length, 1);
        assertEquals(pixelAt(frames, 105, 105), 0xff0000);
        assertEquals(pixelAt(frames, 120, 120), 0x336699);

        // No acknowledgements from here on: the screen keeps changing, yet
        // only one more frame (two in flight) is sent.
        for (let i = 0; i < 20; i++) {
          painter.fill({ x: 0, y: 200, width: 640, height: 50 }, 0x010101 * i);
          await new Promise((r) => setTimeout(r, 20));
        }
        await waitFor(() => frames.length >= 3, {
          what: "a second frame in flight",
        });
        await new Promise((r) => setTimeout(r, 300));
        assertEquals(frames.length, 3, "no frame beyond the flight limit");
        assertEquals(media.inFlight, 2);
        painter.fill({ x: 0, y: 200, width: 640, height: 50 }, 0x00ff00);
        // Acknowledging lets one newer frame through, with the latest pixels.
        media.ack(frames[2].frameId);
        await waitFor(() => pixelAt(frames, 300, 220) === 0x00ff00, {
          what: "the newest pixels",
        });
        assert(frames.length <= 5, `${frames.length} frames`);

        // A viewport clips what is sent.
        media.ack(frames.at(-1)!.frameId);
        media.setViewport({ width: 320, height: 240 });
        const before = frames.length;
        await waitFor(() => frames.length > before, { what: "a refresh" });
        const clipped = boundingBox(frames[before].tiles);
        assertEquals(clipped, { x: 0, y: 0, width: 320, height: 240 });
      } finally {
        media.stop();
      }
    }),
});

Deno.test({
  name:
    "a viewer 100 ms away gets more than two frames in flight (a nearby one: frame_window_test.ts)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withPipeline({ width: 320, height: 240 }, async (pipeline) => {
      const { capture, encoder, painter } = pipeline;
      const delayMs = 100;
      let mostInFlight = 0;
      const timers = new Set<ReturnType<typeof setTimeout>>();
      const media: MediaStream = new MediaStream({
        capture,
        encoder,
        send: (bytes) => {
          const message = decodeStreamerMessage(bytes);
          if (message.type !== "frame") return;
          mostInFlight = Math.max(mostInFlight, media.inFlight);
          const ack = () => media.ack(message.frame.frameId);
          // The network's round trip: the answer reaches the streamer late.
          const timer = setTimeout(() => {
            timers.delete(timer);
            ack();
          }, delayMs);
          timers.add(timer);
        },
        buffered: () => 0,
        pollRate: 100,
      });
      // Busy content: a new colour on every poll.
      let colour = 0;
      const paint = setInterval(() => {
        painter.fill({ x: 0, y: 0, width: 320, height: 40 }, colour++ * 4099);
      }, 10);
      try {
        // 100 ms away: frames keep coming beyond two a round trip.
        media.start();
        await waitFor(() => mostInFlight >= 3, {
          what: "a third frame in flight",
        });
        assert(mostInFlight <= 12, `${mostInFlight} in flight`);
      } finally {
        clearInterval(paint);
        for (const timer of timers) clearTimeout(timer);
        media.stop();
      }
    }),
});
