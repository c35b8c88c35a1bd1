/**
 * Tests for `ffi/windows/struct.ts`: MSVC x64 layout rules (alignment,
 * padding, nested structs, arrays, unions), reading and writing fields in
 * little-endian order, pointers as addresses of real memory, and
 * out-parameters.
 *
 * @module
 */
import {
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  addressOf,
  addressOfPointer,
  copyFrom,
  defineStruct,
  defineUnion,
  encodeStruct,
  holding,
  keepAlive,
  OutParam,
  pointerAt,
  readField,
  readStruct,
  viewOf,
  writeField,
} from "../../../ffi/windows/struct.ts";

Deno.test("fields are aligned to their size and the struct to its largest", () => {
  // struct { BYTE a; DWORD b; WORD c; void* d; BYTE e; }: 1+3 pad, 4, 2+6 pad, 8, 1+7 pad.
  const s = defineStruct({ a: "u8", b: "u32", c: "u16", d: "ptr", e: "u8" });
  assertEquals(s.offsets, { a: 0, b: 4, c: 8, d: 16, e: 24 });
  assertEquals([s.size, s.align], [32, 8]);
  const small = defineStruct({ a: "u16", b: "u8" });
  assertEquals([small.size, small.align], [4, 2]);
});

Deno.test("nested structs, arrays and unions take their own alignment", () => {
  const luid = defineStruct({ LowPart: "u32", HighPart: "i32" });
  const laa = defineStruct({ Luid: luid, Attributes: "u32" });
  assertEquals([laa.size, laa.align], [12, 4]);
  // TOKEN_PRIVILEGES with one entry: 4 + 12 = 16.
  const tp = defineStruct({
    PrivilegeCount: "u32",
    Privileges: { array: laa, length: 1 },
  });
  assertEquals([tp.size, tp.offsets.Privileges], [16, 4]);
  const u = defineUnion({ small: "u16", big: { array: "u32", length: 5 } });
  assertEquals([u.size, u.align, u.offsets.big], [20, 4, 0]);
  const withUnion = defineStruct({ type: "u32", u: defineUnion({ p: "ptr" }) });
  assertEquals([withUnion.offsets.u, withUnion.size], [8, 16]);
});

Deno.test("fields read and write little-endian, 64-bit ones as bigints", () => {
  const s = defineStruct({
    a: "u8",
    b: "u16",
    c: "u32",
    d: "i32",
    e: "u64",
    f: "i64",
    p: "ptr",
  });
  const bytes = encodeStruct(s, {
    a: 0xab,
    b: 0x1234,
    c: 0xdeadbeef,
    d: -2,
    e: 2n ** 63n,
    f: -5n,
    p: 0x1122334455667788n,
  });
  assertEquals(bytes.length, s.size);
  assertEquals([bytes[s.offsets.b], bytes[s.offsets.b + 1]], [0x34, 0x12]);
  assertEquals(readStruct(viewOf(bytes), s), {
    a: 0xab,
    b: 0x1234,
    c: 0xdeadbeef,
    d: -2,
    e: 2n ** 63n,
    f: -5n,
    p: 0x1122334455667788n,
  });
  // A struct at an offset in a larger buffer.
  const two = new Uint8Array(s.size * 2);
  writeField(viewOf(two), s, { field: "c", value: 7, base: s.size });
  assertEquals(readField(viewOf(two), s, { field: "c", base: s.size }), 7);
  assertEquals(readField(viewOf(two), s, { field: "c" }), 0);
  const nested = defineStruct({ inner: s });
  assertThrows(
    () => readField(viewOf(two), nested, { field: "inner" }),
    TypeError,
  );
});

Deno.test("addresses point at the bytes; out-parameters read back", () => {
  const data = new Uint8Array([1, 2, 3, 4, 5]);
  const address = addressOf(data);
  assertEquals([...copyFrom(pointerAt(address), 5)], [1, 2, 3, 4, 5]);
  assertEquals([...copyFrom(pointerAt(address), 2, { offset: 3 })], [4, 5]);
  assertEquals(addressOfPointer(pointerAt(address)), address);
  assertEquals(pointerAt(0n), null);
  assertThrows(() => copyFrom(null, 1), TypeError);

  const out = new OutParam();
  new DataView(out.bytes.buffer).setBigUint64(0, address, true);
  assertEquals(out.address(), address);
  assertEquals([...copyFrom(out.pointer(), 1)], [1]);
  new DataView(out.bytes.buffer).setUint32(0, 4242, true);
  assertEquals(out.u32(), 4242);
});

Deno.test("holding resolves or rejects as the call does", async () => {
  const buffer = new Uint8Array(4);
  assertEquals(await holding(Promise.resolve(7), [buffer]), 7);
  await assertRejects(
    () => holding(Promise.reject(new Error("boom")), [buffer]),
    Error,
    /boom/,
  );
  keepAlive(buffer); // returns nothing, throws nothing
});
