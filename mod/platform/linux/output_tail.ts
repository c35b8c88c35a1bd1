/**
 * Keeping the end of a child's output: the stream is drained for the child's
 * whole life (a full pipe would block it) and only the last few KiB are
 * kept, to explain a failed start.
 *
 * @module
 */
import { withTimeout } from "../../util/async.ts";

/** Options for {@linkcode keepTail}. */
export interface KeepTailOptions {
  /** Characters kept. Default 4096. */
  size?: number;
}

/**
 * Drains `stream` and keeps its last characters; the returned function reads
 * them (waiting briefly for the stream to end, so a dead child's last words
 * are in).
 */
export function keepTail(
  stream: ReadableStream<Uint8Array>,
  options: KeepTailOptions = {},
): () => Promise<string> {
  const size = options.size ?? 4096;
  let kept = "";
  const done = (async () => {
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        kept = (kept + chunk).slice(-size);
      }
    } catch {
      // The pipe broke when the process died.
    }
  })();
  return async () => {
    await withTimeout(done, 200).catch(() => {});
    return kept;
  };
}
