/**
 * Media v2 end to end with real components: a real Xvfb, a real xterm, a
 * real `webstream streamer` process and the real web client in headless
 * Chromium. Text scrolling in the xterm reaches the browser as `COPY`
 * instructions plus the new lines, and once it stops the canvas equals the
 * session's pixels exactly.
 *
 * A full-motion region goes out as H.264 (libx264 in the streamer), is
 * decoded by WebCodecs in Chromium, and once the motion stops the region is
 * painted over so the canvas is exact again.
 *
 * A 440 Hz tone played in the session (`paplay` into the session's own
 * PulseAudio) is heard in Chromium (the player's analyser peaks at 440 Hz);
 * a viewer whose policy has no sound gets no sound packet even when it asks.
 *
 * Needs the Debian packages chromium, xvfb, xterm, libx264-164, libopus0,
 * pulseaudio and pulseaudio-utils.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { GraphicsContext } from "../../ffi/x11/draw.ts";
import { copyPixels, destroyImage, getImage } from "../../ffi/x11/image.ts";
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import {
  C,
  decodeStreamerMessage,
  encodeClientMessage,
  S,
} from "../../httpdocs/session/protocol.js";
import { withSessionSound } from "../support/session_sound.ts";
import { assert } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { startStreamerPage } from "../support/streamer_page.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const SCREEN = { width: 800, height: 600 };

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The session's screen as RGBA, read from the X server. */
function screenRgba(display: string): Uint8Array {
  const x = XDisplay.open(display);
  try {
    const image = getImage(x, x.root, { x: 0, y: 0, ...SCREEN });
    if (!image) throw new Error("XGetImage failed");
    const bgrx = new Uint8Array(SCREEN.width * SCREEN.height * 4);
    try {
      copyPixels(image, bgrx);
    } finally {
      destroyImage(image);
    }
    for (let i = 0; i < bgrx.length; i += 4) {
      const b = bgrx[i];
      bgrx[i] = bgrx[i + 2];
      bgrx[i + 2] = b;
      bgrx[i + 3] = 255;
    }
    return bgrx;
  } finally {
    x.close();
  }
}

/** Pixels where the canvas differs from the session's screen. */
async function differingPixels(page: Page, display: string): Promise<number> {
  const canvas = await read<Record<string, number>>(
    page,
    `webstream.session.readPixels(0, 0, ${SCREEN.width}, ${SCREEN.height})`,
  );
  const screen = screenRgba(display);
  let off = 0;
  for (let i = 0; i < screen.length; i += 4) {
    if (
      canvas[i] !== screen[i] || canvas[i + 1] !== screen[i + 1] ||
      canvas[i + 2] !== screen[i + 2]
    ) off++;
  }
  return off;
}

Deno.test(
  "scrolling text reaches the browser as copies, and ends exact",
  OPTIONS,
  async () => {
    await withXvfb({ ...SCREEN }, async (screen) => {
      // An xterm that prints 200 numbered lines at about 40 lines/s, then
      // waits (the screen stays still for the comparison).
      const script = "i=0; while [ $i -lt 200 ]; do " +
        'echo "line $i: the quick brown fox jumps over the lazy dog $((i * 7919))"; ' +
        "i=$((i+1)); sleep 0.025; done; exec sleep 600";
      const streamer = await startStreamerPage({ env: screen.env });
      const browser = await launchBrowser();
      let xterm: Deno.ChildProcess | undefined;
      try {
        const page = await browser.newPage(SCREEN);
        await page.goto(streamer.url);
        await waitFor(
          () => read<number>(page, "webstream.session?.framesDrawn ?? 0"),
          { what: "a first frame", timeoutMs: 30_000 },
        );
        // The text scrolls while the browser watches.
        xterm = new Deno.Command("xterm", {
          args: ["-geometry", "90x30+0+0", "-e", "sh", "-c", script],
          env: screen.env,
          detached: true,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        await waitFor(
          async () =>
            ((await read<Record<string, number>>(
              page,
              "webstream.session.tilesReceived",
            )).COPY ?? 0) > 20,
          { what: "copies while the text scrolls", timeoutMs: 60_000 },
        ).catch(() => {});
        // The canvas catches up with the still screen exactly.
        await waitFor(
          async () => (await differingPixels(page, screen.display)) === 0,
          { what: "the canvas to equal the screen", timeoutMs: 60_000 },
        );
        const tiles = await read<Record<string, number>>(
          page,
          "webstream.session.tilesReceived",
        );
        assert(
          (tiles.COPY ?? 0) > 0,
          `copies were used: ${JSON.stringify(tiles)}`,
        );
        assert(!tiles.JPEG, `text never went lossy: ${JSON.stringify(tiles)}`);
      } finally {
        await browser.close();
        await streamer.stop();
        if (xterm) await stopProcessGroup(xterm);
      }
    });
  },
);

/** A photographic picture that changes with `t` (BGRX). */
function photo(width: number, height: number, t: number) {
  const pixels = new Uint8Array(new ArrayBuffer(width * height * 4));
  let seed = t * 7919 + 1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const noise = (seed >>> 24) & 15;
      pixels[i] = (128 + 100 * Math.sin((x + t * 9) / 23) + noise) & 255;
      pixels[i + 1] = (x * 2 + y + t * 5 + noise) & 255;
      pixels[i + 2] = (128 + 90 * Math.cos((y - t * 4) / 17) + noise) & 255;
    }
  }
  return pixels;
}

Deno.test(
  "a full-motion region goes out as H.264, then ends exact",
  OPTIONS,
  async () => {
    await withXvfb({ ...SCREEN }, async (screen) => {
      const streamer = await startStreamerPage({ env: screen.env });
      const browser = await launchBrowser();
      const x = XDisplay.open(screen.display);
      const gc = new GraphicsContext(x);
      const region = { width: 384, height: 256, dx: 96, dy: 64 };
      let t = 0;
      const draw = () => {
        gc.putImage(x.root, photo(region.width, region.height, t++), region);
        x.sync();
      };
      let timer: ReturnType<typeof setInterval> | undefined;
      try {
        const page = await browser.newPage(SCREEN);
        await page.goto(streamer.url);
        await waitFor(
          () => read<number>(page, "webstream.session?.framesDrawn ?? 0"),
          { what: "a first frame", timeoutMs: 30_000 },
        );
        timer = setInterval(draw, 33);
        await waitFor(
          () => read<number>(page, "webstream.session.videoFramesShown >= 15"),
          { what: "video frames decoded in the browser", timeoutMs: 60_000 },
        );
        clearInterval(timer);
        timer = undefined;
        // Motion stopped: the region is painted over, lossless.
        await waitFor(
          async () => (await differingPixels(page, screen.display)) === 0,
          { what: "the canvas to equal the screen", timeoutMs: 60_000 },
        );
        const tiles = await read<Record<string, number>>(
          page,
          "webstream.session.tilesReceived",
        );
        assert((tiles.VIDEO ?? 0) >= 15, JSON.stringify(tiles));
      } finally {
        if (timer !== undefined) clearInterval(timer);
        gc.free();
        x.close();
        await browser.close();
        await streamer.stop();
      }
    });
  },
);

Deno.test(
  "a tone played in the session is heard in the browser; no sound without the policy",
  OPTIONS,
  async () => {
    await withXvfb({ ...SCREEN }, async (screen) => {
      await withSessionSound({ toneMs: 4000 }, async ({ pulse, play }) => {
        const env = { ...screen.env, PULSE_SERVER: pulse.server };
        const streamer = await startStreamerPage({ env });
        const silent = await startStreamerPage({
          env,
          policy: { audio: false },
        });
        const browser = await launchBrowser({
          args: ["--autoplay-policy=no-user-gesture-required"],
        });
        // The session sound stops any player still running.
        const players: Deno.ChildProcess[] = [];
        try {
          const page = await browser.newPage(SCREEN);
          await page.goto(streamer.url);
          await waitFor(
            () =>
              read<boolean>(page, "webstream.session?.hello?.audio === true"),
            { what: "a hello offering sound", timeoutMs: 30_000 },
          );
          // The first gesture lets the page play sound.
          await page.mouse.click(5, 5);
          players.push(play());
          await waitFor(
            async () => {
              const level = await read<{ peakHz: number; rms: number } | null>(
                page,
                "webstream.session.sound.player?.level() ?? null",
              );
              return level !== null && Math.abs(level.peakHz - 440) < 10 &&
                level.rms > 0.01;
            },
            { what: "440 Hz in the browser", timeoutMs: 60_000 },
          );

          // A viewer without the sound policy: no hello offer, and nothing
          // sent when it asks anyway.
          const ws = new WebSocket(await silent.viewerUrl());
          ws.binaryType = "arraybuffer";
          let audio = 0;
          let hello: Record<string, unknown> | undefined;
          ws.onmessage = (event) => {
            const bytes = new Uint8Array(event.data);
            if (bytes[0] === S.AUDIO) audio++;
            const message = decodeStreamerMessage(bytes);
            if (message.type === "hello") hello = message.hello;
            if (message.type === "frame") {
              ws.send(encodeClientMessage({
                type: "ack",
                frameId: message.frame.frameId,
              }));
            }
          };
          await waitFor(() => hello !== undefined, { what: "hello" });
          assert(hello!.audio === false, "no sound offered");
          ws.send(encodeClientMessage({
            type: "caps",
            caps: { video: [], audio: true },
          }));
          ws.send(Uint8Array.of(C.AUDIO_STATE, 1));
          await players[0].status;
          players.push(play());
          await new Promise((resolve) => setTimeout(resolve, 1500));
          ws.close();
          assert(audio === 0, `${audio} sound packets sent against the policy`);
          const received = await read<number>(
            page,
            "webstream.session.audioPacketsReceived",
          );
          assert(received > 50, `the listening page got sound: ${received}`);
        } finally {
          await browser.close();
          await silent.stop();
          await streamer.stop();
        }
      });
    });
  },
);
