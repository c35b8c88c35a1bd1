/**
 * Sound end to end, as a user hears it: a tone played in the session
 * (`paplay` into the session's own PulseAudio) → the real `webstream
 * streamer` (recording the sink's monitor, Opus) → the real web client in
 * headless Chromium (WebCodecs, the jitter-buffered worklet). Measured:
 *
 * - **onset latency**: from starting `paplay` to the page's analyser seeing
 *   the tone (both stamped with the machine's wall clock), per trial; the
 *   baseline is the same onset at the streamer's own recorder, measured in
 *   the same run with a second `parec` on the same sink, so the ratio says
 *   what the trip to the browser adds;
 * - **bitrate**: sound bytes the page received per second while a tone
 *   plays (message headers included), against the 128 kbit/s target.
 *
 * The analyser sits before the audio device: the device's own output
 * latency (`AudioContext.outputLatency`, tens of ms on real hardware) is
 * not included, and headless Chromium has no device to add it.
 *
 * `deno run -A bench/media/sound.ts [--quick]`; also part of
 * `deno task bench:media`. Needs pulseaudio, pulseaudio-utils, xvfb and
 * chromium.
 *
 * @module
 */
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import { launchBrowser, type Page } from "../../tests/support/browser.ts";
import { startStreamerPage } from "../../tests/support/streamer_page.ts";
import { withSessionSound } from "../../tests/support/session_sound.ts";
import { withXvfb } from "../../tests/support/x11_draw.ts";
import { sleep, summarize } from "../common.ts";

/** What {@linkcode measureSound} measured. */
export interface SoundFigures {
  /** paplay start → tone in the page, ms, per trial. */
  browserOnsetMs: number[];
  /** paplay start → tone at a recorder on the session's sink, ms. */
  recorderOnsetMs: number[];
  /** Sound received by the page while a tone played, bits per second. */
  bitsPerSecond: number;
}

/** Options for {@linkcode measureSound}. */
export interface SoundOptions {
  /** Trials. */
  trials: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** A tone long enough to be seen, short enough for many trials. */
const TONE_MS = 300;

/** Measures sound onset and bitrate through a real streamer and page. */
export async function measureSound(
  options: SoundOptions,
): Promise<SoundFigures> {
  const log = options.progress ?? (() => {});
  let figures: SoundFigures | undefined;
  await withXvfb({ width: 640, height: 480 }, async (screen) => {
    await withSessionSound({ toneMs: TONE_MS }, async ({ pulse, play }) => {
      const streamer = await startStreamerPage({
        env: { ...screen.env, PULSE_SERVER: pulse.server },
      });
      const browser = await launchBrowser({
        handleSignals: false,
        args: ["--autoplay-policy=no-user-gesture-required"],
      });
      try {
        const page = await browser.newPage({ width: 640, height: 480 });
        await page.goto(streamer.url);
        await page.waitForFunction(
          "window.webstream?.session?.hello?.audio === true",
          undefined,
          { timeout: 30_000 },
        );
        await page.mouse.click(5, 5); // the gesture that lets it play
        // The first recording of an idle null sink starts late: warm up.
        log("sound: warming up");
        await play().status;
        await sleep(2500);
        const browserOnsetMs: number[] = [];
        const recorderOnsetMs: number[] = [];
        let bytes = 0, seconds = 0;
        for (let i = 0; i < options.trials; i++) {
          log(`sound: trial ${i + 1} of ${options.trials}`);
          const recorder = recordOnset(pulse.server);
          const seen = pageOnset(page);
          const before = await audioBytes(page);
          const started = Date.now();
          const player = play();
          browserOnsetMs.push((await seen) - started);
          recorderOnsetMs.push((await recorder.onset) - started);
          await player.status;
          bytes += (await audioBytes(page)) - before;
          seconds += (Date.now() - started) / 1000;
          await recorder.stop();
          await sleep(600); // silence again between trials
        }
        figures = {
          browserOnsetMs,
          recorderOnsetMs,
          bitsPerSecond: bytes * 8 / seconds,
        };
      } finally {
        await browser.close();
        await streamer.stop();
      }
    });
  });
  return figures!;
}

/** Prints the figures with the targets. */
export function printSound(figures: SoundFigures): void {
  const browser = summarize(figures.browserOnsetMs);
  const recorder = summarize(figures.recorderOnsetMs);
  const kbps = figures.bitsPerSecond / 1000;
  console.log(`
Sound (440 Hz tone played in the session; ${figures.browserOnsetMs.length} trials)
measure                              value     baseline (recorder on the sink)  ratio   target     verdict
tone onset, session → browser p50    ${fmt(browser.p50)}  ${
    fmt(recorder.p50)
  }                         ×${
    (browser.p50 / recorder.p50).toFixed(2)
  }   < 150 ms   ${browser.p50 < 150 ? "met" : "MISSED"}
tone onset, session → browser p90    ${fmt(browser.p90)}  ${fmt(recorder.p90)}
sound received per stream            ${
    kbps.toFixed(0)
  } kbit/s                                            ≤ 128      ${
    kbps <= 128 ? "met" : "MISSED"
  }`);
}

function fmt(ms: number): string {
  return `${ms.toFixed(0)} ms`.padEnd(8);
}

/**
 * Resolves with the wall-clock time the page's analyser first hears sound
 * (checked every 2 ms in the page).
 */
function pageOnset(page: Page): Promise<number> {
  return page.evaluate(`new Promise((resolve) => {
    const player = webstream.session.sound.player;
    const timer = setInterval(() => {
      if (player.level().rms > 0.01) {
        clearInterval(timer);
        resolve(Date.now());
      }
    }, 2);
  })`) as Promise<number>;
}

function audioBytes(page: Page): Promise<number> {
  return page.evaluate("webstream.session.audioBytesReceived") as Promise<
    number
  >;
}

/**
 * A second recorder on the session's sink (`parec`, as the streamer
 * records it): resolves `onset` with the wall-clock time of its first
 * non-silent sample.
 */
function recordOnset(server: string): {
  onset: Promise<number>;
  stop(): Promise<void>;
} {
  const child = new Deno.Command("parec", {
    args: [
      `--server=${server}`,
      "--device=webstream.monitor",
      "--format=s16le",
      "--rate=48000",
      "--channels=2",
      "--latency-msec=10",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const onset = (async () => {
    for await (const chunk of child.stdout) {
      const samples = new Int16Array(
        chunk.buffer,
        chunk.byteOffset,
        chunk.byteLength >> 1,
      );
      if (samples.some((s) => Math.abs(s) > 300)) return Date.now();
    }
    throw new Error("the recorder ended before the tone");
  })();
  return {
    onset,
    async stop() {
      await stopProcessGroup(child, { graceMs: 1000 });
      await onset.catch(() => {});
    },
  };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  printSound(
    await measureSound({ trials: quick ? 4 : 12, progress: console.log }),
  );
}
