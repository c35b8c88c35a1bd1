/**
 * The tile encoder's worker: receives a batch of tiles (pixels transferred),
 * encodes them in order and posts the images back (transferred). One batch
 * at a time per worker; the encoder awaits each batch, so nothing queues.
 *
 * @module
 */
import { encodeTile, type TileJob } from "./codecs.ts";

/** A batch posted to the worker. */
export interface WorkerRequest {
  /** Matches the reply to the request. */
  id: number;
  /** Tiles to encode, in order. */
  jobs: TileJob[];
}

/** The worker's reply: every tile's bytes in request order, or the error. */
export type WorkerReply =
  | { id: number; results: Uint8Array[] }
  | { id: number; error: string };

/** The worker side of the global scope (this file runs only in a worker). */
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer: Transferable[]): void;
};

scope.onmessage = async (event) => {
  const { id, jobs } = event.data;
  try {
    const results: Uint8Array[] = [];
    for (const job of jobs) {
      const out = await encodeTile(job);
      // A view into a larger buffer would transfer (and detach) all of it.
      results.push(
        out.byteOffset === 0 && out.byteLength === out.buffer.byteLength
          ? out
          : out.slice(),
      );
    }
    scope.postMessage(
      { id, results },
      results.map((r) => r.buffer as ArrayBuffer),
    );
  } catch (error) {
    scope.postMessage({
      id,
      error: error instanceof Error ? error.message : String(error),
    }, []);
  }
};
