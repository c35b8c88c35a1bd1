/**
 * Click → first frame in a real browser on a real farm: a `webstream
 * -gateway` (the portal) and two `webstream -backend` hosts registered with
 * it (real pool users as root, real Xvfb, real streamers), one with a warm
 * session waiting (tag `warm`) and one with none (tag `cold`), and headless
 * Chromium (playwright-core) at 1920 × 1080 signing in and clicking an app
 * tile (xterm, the farm's terminal). Timed in the page with the marks the
 * pages set (`httpdocs/session/marks.js`) and the launch request's resource
 * timing, split into phases:
 *
 * - **sent**: click → the launch request on the wire (`requestStart`);
 * - **answered**: → the launch's answer read (a token);
 * - **open**: → the session's WebSocket open (through the gateway's relay);
 * - **hello**: → the streamer's `hello`;
 * - **frame**: → the first `frame` received;
 * - **drawn**: → that frame decoded and drawn on the canvas (the total).
 *
 * Cases, each sample on a pool at rest: **(a)** the first launch right after
 * signing in (a fresh browser context: the tile is clicked as soon as it is
 * shown), warm; **(b)** a later launch, warm (the portal loaded again in the
 * same context, the page idle for a second first); **(c)** cold (the `cold`
 * host has no session: Xvfb and the streamer start). Baselines from the same
 * run: (b) for (a), and the **floor**: the same warm launch with no browser
 * (`POST /api/launch` → the relay's WebSocket → first `frame`, in this
 * process), which is what the farm itself costs.
 *
 * `deno run -A bench/launch_bench.ts [samples]`, or part of `deno task
 * bench`. Needs root (pool users), Xvfb, xterm and Chromium.
 *
 * @module
 */
import {
  decodeStreamerMessage,
  type StreamerMessage,
} from "../httpdocs/session/protocol.js";
import { MARK } from "../httpdocs/session/marks.js";
import {
  type BenchHost,
  type BenchRunOptions,
  handleInterrupts,
  ms,
  ratio,
  sleep,
  startHost,
  type Stats,
  summarize,
  until,
} from "./common.ts";
import {
  hasChromium,
  launchBrowser,
  type Page,
} from "../tests/support/browser.ts";
import {
  AdminClient,
  PASSWORD,
  SHARED_SECRET,
  signIn,
  startGateway,
  type TestGateway,
  type UserClient,
  writeGatewayConfig,
} from "../tests/support/gateway.ts";

/** The issue's target for click → first frame, warm. */
export const WARM_TARGET_MS = 500;
/** The target for a cold desktop with its shell (docs/benchmarks.md). */
export const COLD_TARGET_MS = 1500;

/** The browser's window: a full-HD screen. */
const VIEWPORT = { width: 1920, height: 1080 };

/** Phases, in order; each ends at the named moment. */
export const PHASES = [
  "sent",
  "answered",
  "open",
  "hello",
  "frame",
  "drawn",
] as const;

/** A phase's name. */
export type Phase = typeof PHASES[number];

/** One launch: ms from the click to the end of each phase. */
export type LaunchTimes = Record<Phase, number>;

/** One case's figures. */
export interface CaseFigures {
  /** Per phase: its own duration (from the previous phase's end). */
  phases: Record<Phase, Stats>;
  /** Click → drawn. */
  total: Stats;
}

/** The figures of a run. */
export interface LaunchBenchResult {
  /** (a) First launch right after signing in, warm. */
  afterSignIn: CaseFigures;
  /** (b) A later launch, warm. */
  warm: CaseFigures;
  /** (c) Cold: no warm session. */
  cold: CaseFigures;
  /** No browser: `/api/launch` sent → first `frame` received, warm. */
  floor: { answered: Stats; hello: Stats; frame: Stats };
}

/** Options for {@linkcode runLaunchBench}. */
export interface LaunchBenchOptions extends BenchRunOptions {
  /** Samples of each case. */
  samples: number;
}

/** The app every case launches (the farm's terminal). */
const APP = "xterm";

/** Runs the cases; everything started is stopped. */
export async function runLaunchBench(
  options: LaunchBenchOptions,
): Promise<LaunchBenchResult> {
  if (!hasChromium()) throw new Error("Chromium is not installed");
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const config = await writeGatewayConfig({
      users: ["alice"],
      workspaces: ["warm", "cold"].map((tag) => ({
        id: `${tag}-app`,
        name: `${tag} app`,
        kind: "app",
        command: { linux: APP },
        requiredTags: [tag],
        users: ["alice"],
      })),
    });
    stops.push(() => config.remove());
    const gateway = await startGateway(config);
    stops.push(() => gateway.stop());
    const host = (tag: string, slots: number, warm: number) =>
      startHost({
        slots,
        warm,
        grace: 0.5,
        signal,
        interrupted: options.interrupted,
        backend: {
          gatewayUrl: gateway.url,
          sharedSecret: SHARED_SECRET,
          tags: [tag],
        },
      });
    const warmHost = await host("warm", 2, 1);
    stops.push(() => warmHost.stop());
    const coldHost = await host("cold", 1, 0);
    stops.push(() => coldHost.stop());
    await until(
      async () =>
        (await new AdminClient(gateway.url).hosts()).filter((h) =>
          h.state === "Healthy"
        ).length === 2,
      { what: "both hosts to register", signal },
    );
    const farm: Farm = { gateway, warmHost, coldHost, signal };
    const browser = await launchBrowser({ handleSignals: false });
    stops.push(() => browser.close());

    const a: LaunchTimes[] = [];
    const b: LaunchTimes[] = [];
    const c: LaunchTimes[] = [];
    const floor: FloorTimes[] = [];
    const user = await signIn(gateway.url, "alice");
    for (let i = 0; i < options.samples; i++) {
      const page = await browser.newPage(VIEWPORT);
      try {
        await rest(farm);
        a.push(await firstAfterSignIn(page, farm));
        progress(`  (a) after sign-in ${i + 1}: ${line(a.at(-1)!)}`);
        await rest(farm);
        b.push(await laterLaunch(page, farm, "warm-app"));
        progress(`  (b) later, warm  ${i + 1}: ${line(b.at(-1)!)}`);
        await rest(farm);
        c.push(await laterLaunch(page, farm, "cold-app"));
        progress(`  (c) cold         ${i + 1}: ${line(c.at(-1)!)}`);
      } finally {
        await page.context().close();
      }
      await rest(farm);
      floor.push(await floorLaunch(user, farm));
      progress(
        `  floor            ${i + 1}: answered ${
          ms(floor.at(-1)!.answered)
        }, hello ${ms(floor.at(-1)!.hello)}, frame ${ms(floor.at(-1)!.frame)}`,
      );
    }
    return {
      afterSignIn: figures(a),
      warm: figures(b),
      cold: figures(c),
      floor: {
        answered: summarize(floor.map((f) => f.answered)),
        hello: summarize(floor.map((f) => f.hello)),
        frame: summarize(floor.map((f) => f.frame)),
      },
    };
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((error) =>
        console.error("launch bench: cleanup failed:", error)
      );
    }
  }
}

/** What the cases run on. */
interface Farm {
  gateway: TestGateway;
  warmHost: BenchHost;
  coldHost: BenchHost;
  signal: AbortSignal;
}

/**
 * Waits until no session is left (at the gateway and on both hosts) and
 * the warm host has its warm session ready again.
 */
async function rest(farm: Farm): Promise<void> {
  const admin = new AdminClient(farm.gateway.url);
  await until(async () => {
    const warm = farm.warmHost.slots.states();
    const cold = farm.coldHost.slots.states();
    return warm.filter((s) => s === "ready").length === 1 &&
      warm.every((s) => s === "ready" || s === "free") &&
      cold.every((s) => s === "free") &&
      (await admin.sessions()).length === 0;
  }, { what: "the pool to rest", signal: farm.signal });
  await sleep(300, farm.signal);
}

/** A line of progress. */
function line(t: LaunchTimes): string {
  return PHASES.map((p) => `${p} ${ms(t[p])}`).join(", ");
}

/** (a): a fresh context signs in and clicks the tile as soon as it shows. */
async function firstAfterSignIn(page: Page, farm: Farm): Promise<LaunchTimes> {
  await page.goto(`${farm.gateway.url}/`);
  await page.locator("#signin").waitFor();
  await page.locator("input[name=user]").fill("alice");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("#signin button[type=submit]").click();
  const tile = page.locator(`#workspace-list button[data-workspace=warm-app]`);
  await tile.waitFor();
  return await clickAndTime(page, "warm-app");
}

/**
 * (b) and (c): the portal loaded again in the same (signed-in) context,
 * idle for a second, then the tile is clicked.
 */
async function laterLaunch(
  page: Page,
  farm: Farm,
  workspace: string,
): Promise<LaunchTimes> {
  await page.goto(`${farm.gateway.url}/`);
  await page.locator(`#workspace-list button[data-workspace=${workspace}]`)
    .waitFor();
  await sleep(1000, farm.signal);
  return await clickAndTime(page, workspace);
}

/**
 * Clicks a workspace's tile, waits for the first frame drawn, reads the
 * marks, then logs the session off (through the portal's own API).
 */
async function clickAndTime(
  page: Page,
  workspace: string,
): Promise<LaunchTimes> {
  await page.evaluate(
    "performance.clearMarks(); performance.clearResourceTimings()",
  );
  await page.locator(`#workspace-list button[data-workspace=${workspace}]`)
    .click();
  try {
    await page.waitForFunction(
      `performance.getEntriesByName(${JSON.stringify(MARK.drawn)}).length > 0`,
      undefined,
      { timeout: 30_000, polling: 50 },
    );
  } catch (error) {
    const state = await page.evaluate(
      "JSON.stringify({ status: window.webstream?.session?.status, " +
        "portal: document.querySelector('#session')?.textContent, " +
        "overlay: document.querySelector('.ws-overlay')?.textContent, " +
        "marks: performance.getEntriesByType('mark').map((m) => m.name) })",
    ).catch((e: Error) => `unreadable: ${e}`);
    throw new Error(`no first frame drawn: ${error}; the page: ${state}`);
  }
  const raw = await page.evaluate(`(() => {
    const at = (name) => performance.getEntriesByName(name)[0]?.startTime;
    const launch = performance.getEntriesByType("resource")
      .find((e) => new URL(e.name).pathname === "/api/launch");
    return {
      click: at(${JSON.stringify(MARK.click)}),
      sent: launch?.requestStart || launch?.startTime,
      answered: at(${JSON.stringify(MARK.answer)}),
      open: at(${JSON.stringify(MARK.open)}),
      hello: at(${JSON.stringify(MARK.hello)}),
      frame: at(${JSON.stringify(MARK.frame)}),
      drawn: at(${JSON.stringify(MARK.drawn)}),
    };
  })()`) as Record<"click" | Phase, number | undefined>;
  await page.evaluate(`(async () => {
    const sessions = await (await fetch("/api/sessions")).json();
    for (const s of sessions) {
      await fetch("/api/sessions/" + encodeURIComponent(s.sessionId) + "/logoff", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
    }
  })()`);
  const click = raw.click;
  if (click === undefined) throw new Error("the page set no click mark");
  const times = {} as LaunchTimes;
  for (const phase of PHASES) {
    const at = raw[phase];
    if (at === undefined) {
      throw new Error(`the page set no ${phase} mark: ${JSON.stringify(raw)}`);
    }
    times[phase] = at - click;
  }
  return times;
}

/** A launch without a browser, ms from sending `/api/launch`. */
interface FloorTimes {
  answered: number;
  hello: number;
  frame: number;
}

/**
 * The farm's own part of a warm launch: `/api/launch` with the browser's
 * size, the relay's WebSocket, `hello`, the first `frame`; then log off.
 */
async function floorLaunch(
  user: UserClient,
  farm: Farm,
): Promise<FloorTimes> {
  const start = performance.now();
  const response = await user.fetch("/api/launch", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ workspaceId: "warm-app", ...VIEWPORT }),
  });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`/api/launch answered ${response.status}: ${body.error}`);
  }
  const answered = performance.now() - start;
  const url =
    `${farm.gateway.url.replace(/^http/, "ws")}${body.websocketPath}` +
    `?token=${encodeURIComponent(body.token)}`;
  const socket = new WebSocket(url, { headers: { Cookie: user.cookie } });
  socket.binaryType = "arraybuffer";
  const seen = new Map<StreamerMessage["type"], number>();
  const framed = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    const message = decodeStreamerMessage(new Uint8Array(event.data));
    if (!seen.has(message.type)) {
      seen.set(message.type, performance.now() - start);
    }
    if (message.type === "frame" || message.type === "video") framed.resolve();
  };
  socket.onclose = () => framed.reject(new Error("the stream closed"));
  try {
    await Promise.race([
      framed.promise,
      sleep(30_000, farm.signal).then(() => {
        throw new Error("no frame within 30 s");
      }),
    ]);
  } finally {
    socket.onclose = null;
    socket.close();
    const logOff = await user.fetch(
      `/api/sessions/${encodeURIComponent(body.sessionId)}/logoff`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      },
    );
    await logOff.body?.cancel();
  }
  return {
    answered,
    hello: seen.get("hello")!,
    frame: seen.get("frame") ?? seen.get("video")!,
  };
}

function figures(samples: LaunchTimes[]): CaseFigures {
  const phases = {} as Record<Phase, Stats>;
  PHASES.forEach((phase, i) => {
    phases[phase] = summarize(
      samples.map((s) => s[phase] - (i ? s[PHASES[i - 1]] : 0)),
    );
  });
  return { phases, total: summarize(samples.map((s) => s.drawn)) };
}

/** The report of a run. */
export function formatLaunchBench(r: LaunchBenchResult): string {
  const cases = [
    ["(a) first launch after sign-in, warm", r.afterSignIn],
    ["(b) later launch, warm", r.warm],
    ["(c) cold (Xvfb + streamer start)", r.cold],
  ] as const;
  const lines = [
    `phases p50 (max), each from the end of the one before: ${
      PHASES.join(" → ")
    }`,
  ];
  for (const [name, f] of cases) {
    lines.push(
      `${name}: click → first frame drawn p50 ${ms(f.total.p50)}, max ${
        ms(f.total.max)
      }`,
      `    ${
        PHASES.map((p) =>
          `${p} ${ms(f.phases[p].p50)} (${ms(f.phases[p].max)})`
        ).join(", ")
      }`,
    );
  }
  const f = r.floor;
  lines.push(
    `floor (no browser, warm): /api/launch → answered ${
      ms(f.answered.p50)
    }, → hello ${ms(f.hello.p50)}, → first frame received p50 ${
      ms(f.frame.p50)
    }, max ${ms(f.frame.max)}`,
  );
  const verdict = (value: number, target: number) =>
    `${ms(value)} against < ${ms(target)}: ${
      value < target ? "met" : `MISSED by ${ms(value - target)}`
    }`;
  lines.push(
    `target (a) p50 ${verdict(r.afterSignIn.total.p50, WARM_TARGET_MS)}`,
    `target (b) p50 ${verdict(r.warm.total.p50, WARM_TARGET_MS)}`,
    `target (c) p50 ${verdict(r.cold.total.p50, COLD_TARGET_MS)} (cold)`,
    `ratios: (a)/(b) ${ratio(r.afterSignIn.total.p50, r.warm.total.p50)}, ` +
      `(b)/floor ${ratio(r.warm.total.p50, f.frame.p50)}, ` +
      `(c)/(b) ${ratio(r.cold.total.p50, r.warm.total.p50)}, ` +
      `(b)/target ${ratio(r.warm.total.p50, WARM_TARGET_MS)}`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const interrupt = handleInterrupts();
  const result = await runLaunchBench({
    samples: Number(Deno.args[0] ?? 5),
    signal: interrupt.signal,
    interrupted: () => interrupt.received !== undefined,
    progress: (text) => console.error(text),
  });
  console.log(formatLaunchBench(result));
  interrupt.dispose();
}
