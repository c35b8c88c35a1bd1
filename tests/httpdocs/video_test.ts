/**
 * H.264 end to end, in real headless Chromium: frames of known colour
 * blocks are encoded in Deno by the streamer's `H264Encoder` (libx264), fed
 * to `httpdocs/session/video.js`'s `VideoLayer` (WebCodecs `VideoDecoder`)
 * on a page served over http://127.0.0.1 (WebCodecs needs a secure
 * context), drawn to a canvas and read back: every block's colour must come
 * back within a small tolerance (the codec is lossy), which proves the
 * colour conversion, its signalling, the Annex B stream and the decoder
 * wiring together. Also: a delta before any keyframe and a keyframe the
 * decoder fails on report "need keyframe" (once per loss), deltas are
 * refused until the next keyframe, and that keyframe recovers; an odd-sized
 * 720p picture comes out padded to 1280×720 with its colours (padding
 * included); `videoSupport()` lists the codecs offered.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import {
  H264Encoder,
  videoAvailable,
} from "../../mod/streamer/video/encoder.ts";
import { conversionAccelerated } from "../../mod/streamer/video/i420.ts";

const OPTIONS = {
  ignore: !hasChromium() || !videoAvailable(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const HTTPDOCS = new URL("../../httpdocs/", import.meta.url);

/** 4 × 2 blocks of 64×64 pixels: macroblock-aligned, so edges stay sharp. */
const WIDTH = 256;
const HEIGHT = 128;
const PALETTE: [number, number, number][] = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 255],
  [0, 0, 0],
  [128, 128, 128],
  [255, 200, 0],
  [40, 180, 220],
];
/** Largest difference allowed per channel (8-bit). */
const TOLERANCE = 6;

/** Block `i`'s colour in frame `n`: the palette rotates one step a frame. */
function colourOf(block: number, frame: number): [number, number, number] {
  return PALETTE[(block + frame) % PALETTE.length];
}

/** Block size of a 4 × 2 grid over `width × height`. */
function blockSize(width: number, height: number): [number, number] {
  return [Math.ceil(width / 4), Math.ceil(height / 2)];
}

/** A BGRX frame of the 4 × 2 blocks, rows padded (stride > width × 4). */
function paint(frame: number, width = WIDTH, height = HEIGHT): {
  width: number;
  height: number;
  stride: number;
  data: Uint8Array;
} {
  const stride = width * 4 + 32;
  const data = new Uint8Array(stride * height);
  const [bw, bh] = blockSize(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const block = Math.floor(y / bh) * 4 + Math.floor(x / bw);
      const [r, g, b] = colourOf(block, frame);
      const at = y * stride + x * 4;
      data[at] = b;
      data[at + 1] = g;
      data[at + 2] = r;
      data[at + 3] = 0xff;
    }
  }
  return { width, height, stride, data };
}

/** Serves a blank page and httpdocs/session/ on 127.0.0.1. */
function serve(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/") {
        return new Response("<!doctype html><title>video</title>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (/^\/session\/[a-z_]+\.js$/.test(pathname)) {
        const body = await Deno.readFile(new URL(`.${pathname}`, HTTPDOCS));
        return new Response(body, {
          headers: { "content-type": "text/javascript" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
}

interface PageChunk {
  data: number[];
  keyframe: boolean;
  /** Switch the layer to this codec first. */
  codec?: string;
}

interface PageResult {
  supported: string[];
  needKeyframe: string[];
  frames: {
    ok: boolean;
    error?: string;
    width?: number;
    height?: number;
    colours?: number[][];
  }[];
}

/**
 * Runs in the page: decodes `chunks` in order with a `VideoLayer`, draws
 * each frame and averages an 8×8 square at the centre of every block.
 */
async function decodeInPage(
  page: Page,
  arg: { codec: string; chunks: PageChunk[]; centres: number[][] },
): Promise<PageResult> {
  return await page.evaluate(
    async (
      { codec, chunks, centres }: {
        codec: string;
        chunks: PageChunk[];
        centres: number[][];
      },
    ) => {
      const { VideoLayer, videoSupport } = await import("/session/video.js");
      const supported = await videoSupport([codec]);
      const needKeyframe: string[] = [];
      const layer = new VideoLayer(codec, {
        onNeedKeyframe: (reason: string) => needKeyframe.push(reason),
      });
      const frames = [];
      for (let i = 0; i < chunks.length; i++) {
        const data = new Uint8Array(chunks[i].data);
        try {
          if (chunks[i].codec) layer.setCodec(chunks[i].codec);
          const frame = await layer.decode({
            data,
            keyframe: chunks[i].keyframe,
            timestamp: i * 33_333,
          });
          // Page code: DOM types are not in the test's (Deno) program.
          // deno-lint-ignore no-explicit-any
          const page = globalThis as any;
          const canvas = new page.OffscreenCanvas(
            frame.displayWidth,
            frame.displayHeight,
          );
          const context = canvas.getContext("2d", {
            willReadFrequently: true,
          });
          context.drawImage(frame, 0, 0);
          const colours = centres.map(([x, y]) => {
            const pixels: Uint8ClampedArray =
              context.getImageData(x - 4, y - 4, 8, 8).data;
            const sum = [0, 0, 0];
            for (let p = 0; p < pixels.length; p += 4) {
              for (let c = 0; c < 3; c++) sum[c] += pixels[p + c];
            }
            return sum.map((s) => Math.round(s / 64));
          });
          frames.push({
            ok: true,
            width: frame.displayWidth,
            height: frame.displayHeight,
            colours,
          });
          frame.close();
        } catch (error) {
          frames.push({ ok: false, error: (error as Error).message });
        }
      }
      layer.close();
      return { supported, needKeyframe, frames };
    },
    arg,
  );
}

/** The centre of each block. */
function centres(width = WIDTH, height = HEIGHT): number[][] {
  const [bw, bh] = blockSize(width, height);
  return Array.from({ length: 8 }, (_, block) => [
    (block % 4) * bw + (bw >> 1),
    Math.floor(block / 4) * bh + (bh >> 1),
  ]);
}

/** Every block's decoded colour is within {@linkcode TOLERANCE} of frame `n`'s. */
function assertColours(colours: number[][], n: number): void {
  colours.forEach((got, block) => {
    const want = colourOf(block, n);
    const off = Math.max(...got.map((c, i) => Math.abs(c - want[i])));
    assert(
      off <= TOLERANCE,
      `frame ${n} block ${block}: decoded ${got}, painted ${want}`,
    );
  });
}

function chunk(data: Uint8Array, keyframe: boolean): PageChunk {
  return { data: Array.from(data), keyframe };
}

async function withPage(run: (page: Page) => Promise<void>): Promise<void> {
  const server = serve();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await run(page);
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

for (const accelerate of [false, ...conversionAccelerated() ? [true] : []]) {
  Deno.test(
    `H.264 from H264Encoder decodes in Chromium with the source's colours (${
      accelerate ? "libyuv" : "TypeScript"
    } conversion)`,
    OPTIONS,
    async () => {
      const encoder = new H264Encoder({
        width: WIDTH,
        height: HEIGHT,
        bitrate: 2000,
        accelerate,
      });
      const chunks: PageChunk[] = [];
      const frameCount = 6;
      try {
        for (let n = 0; n < frameCount; n++) {
          if (n === 4) encoder.requestKeyframe();
          const out = encoder.encode(paint(n));
          assert(out, `frame ${n} produced no access unit`);
          assertEquals(out.keyframe, n === 0 || n === 4, `frame ${n} keyframe`);
          chunks.push(chunk(out.data, out.keyframe));
        }
      } finally {
        encoder.close();
      }
      await withPage(async (page) => {
        const result = await decodeInPage(page, {
          codec: encoder.codec,
          chunks,
          centres: centres(),
        });
        assertEquals(result.supported, [encoder.codec]);
        assertEquals(result.needKeyframe, []);
        assertEquals(result.frames.length, frameCount);
        result.frames.forEach((frame, n) => {
          assert(frame.ok, `frame ${n}: ${frame.error}`);
          assertEquals([frame.width, frame.height], [WIDTH, HEIGHT]);
          assertColours(frame.colours!, n);
        });
      });
    },
  );
}

Deno.test(
  "VideoLayer reports need-keyframe for a delta first and a keyframe it cannot decode, and recovers",
  OPTIONS,
  async () => {
    const encoder = new H264Encoder({
      width: WIDTH,
      height: HEIGHT,
      bitrate: 2000,
    });
    const key = encoder.encode(paint(0))!;
    const delta = encoder.encode(paint(1))!;
    encoder.requestKeyframe();
    const key2 = encoder.encode(paint(2))!;
    encoder.close();
    const garbage = new Uint8Array(400);
    garbage.set([0, 0, 0, 1, 0x65]);
    for (let i = 5; i < garbage.length; i++) garbage[i] = (i * 131) & 0xff;
    await withPage(async (page) => {
      const result = await decodeInPage(page, {
        codec: encoder.codec,
        chunks: [
          chunk(delta.data, false),
          chunk(key.data, true),
          chunk(delta.data, false),
          chunk(garbage, true),
          chunk(delta.data, false),
          chunk(key2.data, true),
        ],
        centres: centres(),
      });
      assertEquals(result.frames.map((f) => f.ok ? "ok" : f.error), [
        "need keyframe",
        "ok",
        "ok",
        "decoder error: Decoding error.",
        "need keyframe",
        "ok",
      ]);
      // Told once per loss, not once per refused chunk.
      assertEquals(result.needKeyframe, [
        "a delta frame arrived before a keyframe",
        "decoder error: Decoding error.",
      ]);
      assertColours(result.frames[5].colours!, 2);
    });
  },
);

Deno.test(
  "an odd-sized 720p picture decodes padded to even, with its colours",
  OPTIONS,
  async () => {
    const encoder = new H264Encoder({
      width: 1279,
      height: 719,
      bitrate: 3000,
    });
    const chunks: PageChunk[] = [];
    try {
      for (let n = 0; n < 3; n++) {
        const out = encoder.encode(paint(n, 1279, 719));
        assert(out);
        chunks.push(chunk(out.data, out.keyframe));
      }
    } finally {
      encoder.close();
    }
    await withPage(async (page) => {
      const result = await decodeInPage(page, {
        codec: encoder.codec,
        chunks,
        // …and the padding: the bottom-right corner repeats block 7.
        centres: [...centres(1279, 719), [1276, 716]],
      });
      assertEquals(result.supported, [encoder.codec]);
      result.frames.forEach((frame, n) => {
        assert(frame.ok, `frame ${n}: ${frame.error}`);
        assertEquals([frame.width, frame.height], [1280, 720]);
        const corner = frame.colours!.pop()!;
        assertColours(frame.colours!, n);
        // Index 0 of frame n + 7 is block 7 of frame n.
        assertColours([corner], n + 7);
      });
    });
  },
);

Deno.test(
  "videoSupport: Chromium decodes the Constrained Baseline and High codecs offered",
  OPTIONS,
  async () => {
    await withPage(async (page) => {
      const { supported, all, bogus } = await page.evaluate(async () => {
        const { H264_CODECS, videoSupport } = await import("/session/video.js");
        return {
          supported: await videoSupport(),
          all: [...H264_CODECS],
          // An unknown codec string is left out, not an error.
          bogus: await videoSupport(["avc1.FFFFFF", "nonsense"]),
        };
      });
      assertEquals(supported, all);
      assertEquals(bogus, []);
    });
  },
);

Deno.test(
  "VideoLayer switches codec for a stream of another size at its keyframe",
  OPTIONS,
  async () => {
    const small = new H264Encoder({
      width: WIDTH,
      height: HEIGHT,
      bitrate: 1000,
    });
    const large = new H264Encoder({ width: 1280, height: 720, bitrate: 3000 });
    let chunks: PageChunk[];
    try {
      assert(small.codec !== large.codec, `${small.codec} ${large.codec}`);
      const a = small.encode(paint(0))!;
      const b = small.encode(paint(1))!;
      const c = large.encode(paint(2, 1280, 720))!;
      const d = large.encode(paint(3, 1280, 720))!;
      chunks = [
        chunk(a.data, true),
        chunk(b.data, false),
        // A delta of the new stream before its keyframe is refused.
        { ...chunk(d.data, false), codec: large.codec },
        chunk(c.data, true),
        chunk(d.data, false),
      ];
    } finally {
      small.close();
      large.close();
    }
    await withPage(async (page) => {
      const result = await decodeInPage(page, {
        codec: small.codec,
        chunks,
        centres: centres(),
      });
      assertEquals(
        result.frames.map((f) => f.ok ? `${f.width}×${f.height}` : f.error),
        ["256×128", "256×128", "need keyframe", "1280×720", "1280×720"],
      );
    });
  },
);
