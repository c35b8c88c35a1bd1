/**
 * Text for the media benchmark's terminals: prints varied, realistic lines
 * (log records, source code, shell listings) at a paced rate, the same
 * lines in every run (a seeded generator), so both sides see the same
 * text scroll by.
 *
 * Usage, in an `xterm -e`:
 * `deno run bench/media/scroll_text.ts [--rate 20] [--lines 0] [--seconds 300]`
 *
 * - `--lines N` prints N lines at once first (a full screen of text);
 * - `--rate R` then prints R lines per second (in batches every 10 ms at
 *   high rates); `0` prints nothing more and waits;
 * - `--seconds S` exits after S seconds, so a forgotten terminal stops by
 *   itself; SIGTERM/SIGHUP (the terminal closing) end it at once.
 *
 * @module
 */

const WORDS = [
  "request",
  "session",
  "viewer",
  "tile",
  "encoder",
  "frame",
  "display",
  "socket",
  "buffer",
  "config",
  "token",
  "stream",
  "client",
  "server",
  "cursor",
  "region",
  "damage",
  "capture",
  "latency",
  "upload",
  "handler",
  "queue",
  "worker",
  "backend",
];
const LEVELS = ["INFO ", "DEBUG", "WARN ", "INFO ", "ERROR", "INFO "];
const CODE = [
  "export function encodeTile(tile: Tile, quality: number): Uint8Array {",
  "  const bytes = new Uint8Array(tile.width * tile.height * 4);",
  "  for (let y = 0; y < tile.height; y++) {",
  "    if (damage.intersects(region)) queue.push({ x, y, width, height });",
  "  }",
  "  return await this.#socket.send(encodeFrame(frame, { flush: true }));",
  "}",
  "// The viewer acknowledges each frame; at most two are in flight.",
];

/** A line generator: the same sequence for the same seed. */
export function lineGenerator(seed = 0x2545f491): () => string {
  let state = seed >>> 0 || 1;
  let line = 0;
  const next = (n: number): number => {
    // xorshift32: cheap and deterministic.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const words = (count: number): string =>
    Array.from({ length: count }, () => WORDS[next(WORDS.length)]).join(" ");
  return () => {
    line++;
    const kind = next(10);
    const time = `2026-12-07T03:${String(10 + (line / 3600 | 0) % 50)}:${
      String((line / 60 | 0) % 60).padStart(2, "0")
    }.${String(line % 1000).padStart(3, "0")}Z`;
    if (kind < 5) {
      return `${time} ${LEVELS[next(LEVELS.length)]} [${
        WORDS[next(WORDS.length)]
      }] ${words(3 + next(12))} id=${next(1e6)} took=${next(900)}ms`;
    }
    if (kind < 8) {
      return `${String(line).padStart(6)}  ${CODE[next(CODE.length)]}`;
    }
    const size = String(next(1e7)).padStart(9);
    return `-rw-r--r-- 1 webstream users ${size} Dec  7 03:${
      String(next(60)).padStart(2, "0")
    } ${WORDS[next(WORDS.length)]}_${next(100)}.${
      ["ts", "json", "log", "png"][next(4)]
    }`;
  };
}

async function main(args: string[]): Promise<void> {
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const rate = option("--rate", 20);
  const initial = option("--lines", 0);
  const seconds = option("--seconds", 300);
  const next = lineGenerator();
  const encoder = new TextEncoder();
  const write = (count: number): void => {
    let text = "";
    for (let i = 0; i < count; i++) text += next() + "\n";
    // Whole batches: a terminal sees one write per tick, as from a real program.
    Deno.stdout.writeSync(encoder.encode(text));
  };
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => Deno.exit(0));
  }
  if (initial > 0) write(initial);
  const end = performance.now() + seconds * 1000;
  if (rate <= 0) {
    await new Promise((r) =>
      setTimeout(r, Math.max(0, end - performance.now()))
    );
    return;
  }
  // Batches every tick; the count keeps the long-run rate exact.
  const tick = Math.max(10, 1000 / rate);
  const start = performance.now();
  let printed = 0;
  while (performance.now() < end) {
    const due = Math.floor((performance.now() - start) / 1000 * rate);
    if (due > printed) {
      write(due - printed);
      printed = due;
    }
    await new Promise((r) => setTimeout(r, tick));
  }
}

if (import.meta.main) await main(Deno.args);
