/**
 * Tests for `ffi/libc/mod.ts`: `bytesEqual` answers as a byte-by-byte
 * comparison does, for equal and different views at any offset, and refuses
 * views of different lengths.
 *
 * @module
 */
import { assert, assertThrows } from "../../support/assert.ts";
import { bytesEqual } from "../../../ffi/libc/mod.ts";

Deno.test("bytesEqual matches a byte-by-byte comparison", () => {
  const a = Uint8Array.from({ length: 4099 }, (_, i) => (i * 31) & 255);
  const b = a.slice();
  assert(bytesEqual(a, b));
  assert(bytesEqual(a.subarray(3, 1000), b.subarray(3, 1000)), "views");
  assert(bytesEqual(new Uint8Array(), new Uint8Array()), "empty");
  for (const at of [0, 1, 2048, 4098]) {
    const c = a.slice();
    c[at] ^= 1;
    assert(!bytesEqual(a, c), `a difference at ${at}`);
  }
  // The same bytes at different offsets of one buffer.
  const twice = new Uint8Array(200);
  twice.set(a.subarray(0, 100), 0);
  twice.set(a.subarray(0, 100), 100);
  assert(bytesEqual(twice.subarray(0, 100), twice.subarray(100)));
});

Deno.test("views of different lengths are refused", () => {
  assertThrows(
    () => bytesEqual(new Uint8Array(2), new Uint8Array(3)),
    RangeError,
  );
});
