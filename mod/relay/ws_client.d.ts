// deno-lint-ignore-file no-explicit-any
/**
 * The parts of npm `ws` the relay uses, typed here: its own types come from
 * `@types/ws`, which imports `@types/node`, whose global `WebSocket` would
 * replace Deno's in the whole type-checked program.
 *
 * @module
 */

/** A `ws` client socket. */
export default class WebSocket {
  constructor(
    url: string,
    options?: {
      headers?: Record<string, string>;
      maxPayload?: number;
      perMessageDeflate?: boolean;
      /** Fills each frame's 4-byte masking key. */
      generateMask?: (mask: Uint8Array) => void;
    },
  );
  readonly readyState: 0 | 1 | 2 | 3;
  readonly bufferedAmount: number;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: "open", listener: () => void): this;
  on(
    event: "message",
    listener: (data: Uint8Array, isBinary: boolean) => void,
  ): this;
  on(
    event: "close",
    listener: (code: number, reason: Uint8Array) => void,
  ): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}
