/**
 * The C library's `memcmp`, for comparing large stretches of pixels: the
 * encoder checks every scrolled row of a damaged area against what the
 * viewer holds each frame, and native `memcmp` does that several times
 * faster than a JavaScript loop. Loaded from `libc.so.6` (Linux) or
 * `msvcrt.dll` (Windows); where neither loads, a JavaScript loop stands in,
 * with the same answers.
 *
 * @module
 */

const SYMBOLS = {
  memcmp: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

let memcmp:
  | ((a: Uint8Array, b: Uint8Array, n: number) => number)
  | null
  | undefined;

function load(): typeof memcmp {
  if (memcmp !== undefined) return memcmp;
  const name = Deno.build.os === "windows" ? "msvcrt.dll" : "libc.so.6";
  try {
    const lib = Deno.dlopen(name, SYMBOLS);
    memcmp = (a, b, n) => lib.symbols.memcmp(a, b, BigInt(n));
  } catch {
    memcmp = null;
  }
  return memcmp;
}

/** Whether `a` and `b` hold the same bytes (they must be the same length). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    throw new RangeError(`cannot compare ${a.length} with ${b.length} bytes`);
  }
  if (a.length === 0) return true;
  const native = load();
  if (native) return native(a, b, a.length) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
