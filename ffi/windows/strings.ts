/**
 * UTF-16 strings for the Win32 "W" functions: `LPCWSTR` arguments are
 * NUL-terminated UTF-16LE, written into a fresh buffer; strings the system
 * returns are read from foreign memory up to their NUL.
 *
 * Every Windows target (x64, ARM64) is little-endian, so a `Uint16Array`
 * holds UTF-16LE code units as they are.
 *
 * @module
 */

/** `s` as a NUL-terminated UTF-16LE buffer, for a `buffer` (`LPCWSTR`) argument. */
export function wide(s: string): Uint8Array<ArrayBuffer> {
  if (s.includes("\0")) {
    throw new TypeError(
      `a Windows string cannot contain NUL: ${JSON.stringify(s)}`,
    );
  }
  const units = new Uint16Array(s.length + 1);
  for (let i = 0; i < s.length; i++) units[i] = s.charCodeAt(i);
  return new Uint8Array(units.buffer);
}

/** `wide(s)`, or null (a NULL `LPCWSTR`) for undefined. */
export function wideOrNull(
  s: string | undefined,
): Uint8Array<ArrayBuffer> | null {
  return s === undefined ? null : wide(s);
}

/**
 * A `REG_MULTI_SZ` / environment-block style list: each string
 * NUL-terminated, then one more NUL.
 */
export function wideList(strings: readonly string[]): Uint8Array<ArrayBuffer> {
  for (const s of strings) {
    if (s === "" || s.includes("\0")) {
      throw new TypeError(
        `a Windows string list item cannot be empty or contain NUL: ${
          JSON.stringify(s)
        }`,
      );
    }
  }
  const joined = strings.map((s) => s + "\0").join("") + "\0";
  const units = new Uint16Array(joined.length);
  for (let i = 0; i < joined.length; i++) units[i] = joined.charCodeAt(i);
  return new Uint8Array(units.buffer);
}

/**
 * Decodes UTF-16LE `bytes` up to the first NUL (or the end). Lone
 * surrogates come out as U+FFFD.
 */
export function fromWide(bytes: Uint8Array): string {
  const units = bytes.byteLength >> 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, units * 2);
  let end = 0;
  while (end < units && view.getUint16(end * 2, true) !== 0) end++;
  return new TextDecoder("utf-16le").decode(
    bytes.subarray(0, end * 2),
  );
}

/** Longest string read from foreign memory, in UTF-16 code units. */
const MAX_UNITS = 1 << 20;

/**
 * Reads a NUL-terminated UTF-16 string from foreign memory (an `LPWSTR` the
 * system returned); null reads as "".
 */
export function readWide(
  pointer: Deno.PointerValue,
  options: { maxUnits?: number } = {},
): string {
  if (pointer === null) return "";
  const max = options.maxUnits ?? MAX_UNITS;
  const view = new Deno.UnsafePointerView(pointer);
  let end = 0;
  while (end < max && view.getUint16(end * 2) !== 0) end++;
  const bytes = new Uint8Array(end * 2);
  if (end) view.copyInto(bytes);
  return new TextDecoder("utf-16le").decode(bytes);
}

/**
 * Reads a double-NUL-terminated list of UTF-16 strings (an environment
 * block, `REG_MULTI_SZ`) from foreign memory.
 */
export function readWideList(
  pointer: Deno.PointerValue,
  options: { maxUnits?: number } = {},
): string[] {
  if (pointer === null) return [];
  const max = options.maxUnits ?? MAX_UNITS;
  const view = new Deno.UnsafePointerView(pointer);
  const out: string[] = [];
  let start = 0;
  while (start < max && view.getUint16(start * 2) !== 0) {
    let end = start;
    while (end < max && view.getUint16(end * 2) !== 0) end++;
    const bytes = new Uint8Array((end - start) * 2);
    view.copyInto(bytes, start * 2);
    out.push(new TextDecoder("utf-16le").decode(bytes));
    start = end + 1;
  }
  return out;
}
