/**
 * Tests for `ffi/windows/strings.ts`: UTF-16LE encoding with the NUL
 * terminator, surrogate pairs, refusing embedded NULs, string lists, and
 * reading strings and lists back from real memory through pointers.
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import {
  fromWide,
  readWide,
  readWideList,
  wide,
  wideList,
  wideOrNull,
} from "../../../ffi/windows/strings.ts";

Deno.test("wide is UTF-16LE with one NUL, surrogates kept", () => {
  assertEquals([...wide("Ab")], [0x41, 0, 0x62, 0, 0, 0]);
  const emoji = wide("é😀");
  // é = U+00E9; 😀 = D83D DE00.
  assertEquals([...emoji], [0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0, 0]);
  assertEquals(fromWide(emoji), "é😀");
  assertEquals(fromWide(wide("")), "");
  assertThrows(() => wide("a\0b"), TypeError, /NUL/);
  assertEquals(wideOrNull(undefined), null);
  assertEquals(fromWide(wideOrNull("webs01")!), "webs01");
});

Deno.test("fromWide stops at the first NUL or the end", () => {
  const bytes = new Uint8Array([0x61, 0, 0, 0, 0x62, 0]);
  assertEquals(fromWide(bytes), "a");
  assertEquals(fromWide(new Uint8Array([0x61, 0, 0x62, 0])), "ab");
  // An odd trailing byte is ignored.
  assertEquals(fromWide(new Uint8Array([0x61, 0, 0x62])), "a");
});

Deno.test("wideList is NUL-separated with a final extra NUL", () => {
  assertEquals([...wideList(["a", "bc"])], [
    0x61,
    0,
    0,
    0,
    0x62,
    0,
    0x63,
    0,
    0,
    0,
    0,
    0,
  ]);
  assertEquals([...wideList([])], [0, 0]);
  assertThrows(() => wideList(["a", ""]), TypeError, /empty/);
});

Deno.test("strings and lists read back from memory through pointers", () => {
  const text = wide("C:\\Users\\webs01 — ünïcode 😀");
  assertEquals(
    readWide(Deno.UnsafePointer.of(text)),
    "C:\\Users\\webs01 — ünïcode 😀",
  );
  assertEquals(readWide(null), "");
  assertEquals(readWide(Deno.UnsafePointer.of(text), { maxUnits: 2 }), "C:");
  const list = wideList(["PATH=C:\\Windows", "USERNAME=webs01"]);
  assertEquals(readWideList(Deno.UnsafePointer.of(list)), [
    "PATH=C:\\Windows",
    "USERNAME=webs01",
  ]);
  assertEquals(readWideList(Deno.UnsafePointer.of(wideList([]))), []);
  assertEquals(readWideList(null), []);
});
