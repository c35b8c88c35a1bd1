/**
 * A fixed set of module workers ({@link ./worker.ts}) that encode batches of
 * tiles. A batch of jobs is split into contiguous runs of about equal pixel
 * counts, one per worker; the results are put back in job order, so the
 * output does not depend on which worker finished first. Each worker has at
 * most one batch in flight (the caller awaits it), so nothing queues up.
 *
 * @module
 */
import type { TileJob } from "./codecs.ts";
import type { WorkerReply, WorkerRequest } from "./worker.ts";

interface Pending {
  resolve(results: Uint8Array[]): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Encodes tile batches on `size` workers, started on first use. */
export class WorkerPool {
  readonly #size: number;
  #slots: (Slot | undefined)[];
  #nextId = 1;
  #closed = false;

  /** A pool of `size` workers (at least 1). */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`worker count ${size} is not a positive integer`);
    }
    this.#size = size;
    this.#slots = new Array(size).fill(undefined);
  }

  /** Number of workers. */
  get size(): number {
    return this.#size;
  }

  /** Workers running now (started, not stopped or crashed). */
  get running(): number {
    return this.#slots.filter((s) => s !== undefined).length;
  }

  /** Encodes `jobs` across the workers; results in job order. */
  async encode(jobs: TileJob[]): Promise<Uint8Array[]> {
    if (this.#closed) throw new Error("tile encoder is closed");
    if (!jobs.length) return [];
    const runs = split(jobs, Math.min(this.#size, jobs.length));
    const parts = await Promise.all(
      runs.map((run, i) => this.#post(i, run)),
    );
    return parts.flat();
  }

  /** Stops every worker; batches in flight reject. */
  close(): void {
    this.#closed = true;
    for (let i = 0; i < this.#slots.length; i++) this.#stop(i, "closed");
  }

  #post(index: number, jobs: TileJob[]): Promise<Uint8Array[]> {
    const slot = this.#slots[index] ?? this.#start(index);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const request: WorkerRequest = { id, jobs };
      slot.worker.postMessage(
        request,
        jobs.map((j) => j.pixels.buffer as ArrayBuffer),
      );
    });
  }

  #start(index: number): Slot {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), {
      type: "module",
    });
    const slot: Slot = { worker, pending: new Map() };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if ("error" in reply) {
        pending.reject(new Error(`tile encoder worker: ${reply.error}`));
      } else pending.resolve(reply.results);
    };
    worker.onerror = (event: ErrorEvent) => {
      // A crashed worker is replaced on the next batch.
      event.preventDefault();
      this.#stop(index, `worker failed: ${event.message}`);
    };
    this.#slots[index] = slot;
    return slot;
  }

  #stop(index: number, reason: string): void {
    const slot = this.#slots[index];
    if (!slot) return;
    this.#slots[index] = undefined;
    slot.worker.terminate();
    for (const pending of slot.pending.values()) {
      pending.reject(new Error(`tile encoder ${reason}`));
    }
    slot.pending.clear();
  }
}

/** Splits `jobs` into `count` contiguous runs of about equal pixel counts. */
function split(jobs: TileJob[], count: number): TileJob[][] {
  const total = jobs.reduce((sum, j) => sum + j.width * j.height, 0);
  const runs: TileJob[][] = [];
  let run: TileJob[] = [];
  let done = 0;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    run.push(job);
    done += job.width * job.height;
    const left = jobs.length - i - 1;
    const runsLeft = count - runs.length - 1;
    // Close the run at its share of the pixels, keeping a job for each run left.
    if (
      runsLeft > 0 &&
      (done >= total * (runs.length + 1) / count || left === runsLeft)
    ) {
      runs.push(run);
      run = [];
    }
  }
  runs.push(run);
  return runs;
}
