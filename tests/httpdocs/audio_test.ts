/**
 * The browser's session sound player (`httpdocs/session/audio.js` and its
 * worklet) in real headless Chromium, on a page served from 127.0.0.1 (a
 * secure context, which WebCodecs needs) with autoplay allowed: Opus packets
 * of a 440 Hz tone, encoded in Deno with `ffi/opus/mod.ts` and pushed at
 * their real pace, come out of the worklet with 440 Hz dominant (its output
 * samples) and as the analyser's peak; muting silences the output while the
 * player keeps playing; volume and bad packets are checked at the edge; and
 * a burst far beyond the jitter buffer's limit is cut back rather than
 * played late.
 *
 * @module
 */
import { assert, assertEquals, assertGreater } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { dominance, sine } from "../support/tone.ts";
import { waitFor } from "../support/wait.ts";
import { OpusEncoder } from "../../ffi/opus/mod.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const SESSION = new URL("../../httpdocs/session/", import.meta.url);

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sound</title>
<script type="module">
  import { AudioPlayer, audioSupported } from "/session/audio.js";
  window.AudioPlayer = AudioPlayer;
  window.audioSupported = audioSupported;
  // Pushes window.packets at their real pace (10 ms each), from now.
  window.feed = (player) => {
    const start = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(window.packets.length, (performance.now() - start) / 10 + 1);
      for (; sent < due; sent++) player.push(window.packets[sent]);
      if (sent >= window.packets.length) clearInterval(timer);
    }, 5);
  };
  window.loaded = true;
</script>`;

/** Serves the test page and `httpdocs/session/` on 127.0.0.1. */
function serve(): { base: string; stop(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/") {
        return new Response(PAGE, { headers: { "content-type": "text/html" } });
      }
      const name = path.match(/^\/session\/([a-z_]+\.js)$/)?.[1];
      if (!name) return new Response("not found", { status: 404 });
      const body = await Deno.readFile(new URL(name, SESSION));
      return new Response(body, {
        headers: { "content-type": "text/javascript" },
      });
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}

/** `seconds` of a 440 Hz tone as 10 ms Opus packets, base64 for the page. */
function tonePackets(seconds: number): { data: string; timestampUs: number }[] {
  using encoder = new OpusEncoder({ bitrate: 96_000 });
  const packets = [];
  for (let f = 0; f < seconds * 100; f++) {
    const data = encoder.encode(sine(440, 480, { offset: f * 480 }));
    packets.push({
      data: btoa(String.fromCharCode(...data)),
      timestampUs: f * 10_000,
    });
  }
  return packets;
}

/** Loads the page with `packets` decoded into `window.packets`. */
async function openPage(page: Page, base: string, seconds: number) {
  await page.goto(`${base}/`);
  await waitFor(() => page.evaluate("window.loaded === true"), {
    what: "the page to load",
  });
  await page.evaluate(
    `window.packets = ${JSON.stringify(tonePackets(seconds))}.map((p) => ({
    timestampUs: p.timestampUs,
    data: Uint8Array.from(atob(p.data), (c) => c.charCodeAt(0)),
  }))`,
  );
}

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The player's last `count` output samples, as numbers. */
async function recent(page: Page, count: number): Promise<number[]> {
  return await read<number[]>(
    page,
    `player.recentSamples(${count}).then((s) => Array.from(s))`,
  );
}

Deno.test({
  ...OPTIONS,
  name: "AudioPlayer plays Opus packets of a 440 Hz tone; mute silences it",
  async fn() {
    const http = serve();
    const browser = await launchBrowser({
      args: ["--autoplay-policy=no-user-gesture-required"],
    });
    try {
      const page = await browser.newPage();
      await openPage(page, http.base, 3);
      assert(await read(page, "audioSupported()"), "WebCodecs and worklets");
      await page.evaluate(`(async () => {
        window.player = new AudioPlayer();
        await player.ready;
        await player.resume();
        feed(player);
      })()`);
      assertEquals(await read(page, "player.context.state"), "running");
      assertEquals(await read(page, "player.context.sampleRate"), 48000);
      // Playing, with 100 ms of tone out (the buffer primes first).
      await waitFor(async () => {
        const stats = await read<{ playing: boolean }>(page, "player.stats()");
        const samples = await recent(page, 4800);
        return stats.playing && samples.every((s, i) => i < 100 || s !== 0);
      }, { what: "the tone to play" });
      const samples = await recent(page, 4800);
      assertGreater(dominance(samples, 440), 100);
      const level = await read<{ peakHz: number; rms: number }>(
        page,
        "player.level()",
      );
      assert(Math.abs(level.peakHz - 440) < 12, `peak at ${level.peakHz} Hz`);
      assertGreater(level.rms, 0.05);
      assertEquals(await read(page, "player.decodeErrors"), 0);

      await page.evaluate("player.setMuted(true)");
      await waitFor(
        async () =>
          (await read<{ rms: number }>(page, "player.level()")).rms < 1e-4,
        { what: "silence when muted" },
      );
      // The player itself goes on (unmuting resumes at once).
      assertGreater(dominance(await recent(page, 4800), 440), 100);
      await page.evaluate("player.setMuted(false); player.setVolume(0.5)");
      await waitFor(async () => {
        const { rms } = await read<{ rms: number }>(page, "player.level()");
        return rms > 0.02 && rms < level.rms * 0.7;
      }, { what: "half volume" });

      // Edges: a volume out of range, a packet without bytes.
      assertEquals(
        await read(
          page,
          "(() => { try { player.setVolume(2) } catch (e) { return e.name } })()",
        ),
        "RangeError",
      );
      assertEquals(
        await read(
          page,
          "(() => { try { player.push({ data: [1], timestampUs: 0 }) } catch (e) { return e.name } })()",
        ),
        "TypeError",
      );
      await page.evaluate("player.close()");
      assertEquals(await read(page, "player.context.state"), "closed");
    } finally {
      await browser.close();
      await http.stop();
    }
  },
});

Deno.test({
  ...OPTIONS,
  name: "AudioPlayer cuts a burst back to its target instead of playing late",
  async fn() {
    const http = serve();
    const browser = await launchBrowser({
      args: ["--autoplay-policy=no-user-gesture-required"],
    });
    try {
      const page = await browser.newPage();
      await openPage(page, http.base, 1);
      // A whole second at once, as after a network stall.
      await page.evaluate(`(async () => {
        window.player = new AudioPlayer({ targetMs: 50, maxMs: 200 });
        await player.ready;
        await player.resume();
        for (const p of packets) player.push(p);
      })()`);
      const stats = await waitFor(async () => {
        const s = await read<{ droppedFrames: number; bufferedFrames: number }>(
          page,
          "player.stats()",
        );
        return s.droppedFrames > 0 ? s : undefined;
      }, { what: "frames dropped" });
      // At most the limit is ever queued: never more than 200 ms behind.
      assert(stats.bufferedFrames <= 9600, `${stats.bufferedFrames} queued`);
      await page.evaluate("player.close()");
    } finally {
      await browser.close();
      await http.stop();
    }
  },
});
