/**
 * One full garbage collection, asked for by the process itself (no
 * `--expose-gc` on its command line): V8 only exposes `gc` to contexts made
 * after the flag is set, so it is set once and a fresh `node:vm` context
 * hands the function over.
 *
 * For after a bulk of garbage the process knows it just made, such as a
 * gateway loading 500,000 sessions at start: V8 sizes the old generation's
 * next limit from what it last found live, and without a collection after
 * the load that limit stays where the load's garbage put it (420 MB of heap
 * for 250 MB live at 10,000 hosts, `bench/restart_bench.ts`).
 *
 * @module
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;

/**
 * Runs a full, blocking garbage collection (hundreds of milliseconds with a
 * large heap: not for a request path).
 */
export function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
}
