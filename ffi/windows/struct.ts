/**
 * C struct layouts for the Windows bindings, computed the way MSVC lays
 * them out on x64 (and ARM64): each field at the next multiple of its own
 * alignment, pointers and handles 8 bytes, the struct padded to a multiple
 * of its largest alignment. Structs are read and written through a
 * `DataView` over a `Uint8Array`; pointer fields hold addresses as `bigint`.
 *
 * Layouts are data, so their sizes and offsets are unit tested against the
 * Windows SDK's figures on any machine (`tests/ffi/windows/`).
 *
 * @module
 */

/** A scalar C type: `ptr` is a pointer or handle (8 bytes on 64-bit Windows). */
export type Scalar = "u8" | "u16" | "u32" | "i32" | "u64" | "i64" | "ptr";

/** What a field holds: a scalar, a nested struct, or a fixed array of either. */
export type FieldSpec =
  | Scalar
  | StructLayout
  | { array: Scalar | StructLayout; length: number };

/** A struct's layout: its size, alignment and each field's offset. */
export interface StructLayout<N extends string = string> {
  /** `sizeof`, padding included. */
  readonly size: number;
  /** The struct's alignment (its largest field's). */
  readonly align: number;
  /** Each field's byte offset. */
  readonly offsets: Readonly<Record<N, number>>;
  /** Each field's type. */
  readonly types: Readonly<Record<N, FieldSpec>>;
}

const SCALARS: Record<Scalar, number> = {
  u8: 1,
  u16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
  i64: 8,
  ptr: 8,
};

function sizeAlign(spec: FieldSpec): { size: number; align: number } {
  if (typeof spec === "string") {
    return { size: SCALARS[spec], align: SCALARS[spec] };
  }
  if ("array" in spec) {
    const item = sizeAlign(spec.array);
    return { size: item.size * spec.length, align: item.align };
  }
  return { size: spec.size, align: spec.align };
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * Lays out a struct from its fields in declaration order.
 *
 * @example
 * ```ts
 * const POINT = defineStruct({ x: "i32", y: "i32" }); // size 8
 * ```
 */
export function defineStruct<const F extends Record<string, FieldSpec>>(
  fields: F,
): StructLayout<keyof F & string> {
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  for (const [name, spec] of Object.entries(fields)) {
    const field = sizeAlign(spec);
    offset = alignUp(offset, field.align);
    offsets[name] = offset;
    offset += field.size;
    align = Math.max(align, field.align);
  }
  return {
    size: alignUp(offset, align),
    align,
    offsets: offsets as Record<keyof F & string, number>,
    types: fields,
  };
}

/**
 * Lays out a C union: every member at offset 0, the size its largest
 * member's (rounded to the alignment).
 */
export function defineUnion<const F extends Record<string, FieldSpec>>(
  members: F,
): StructLayout<keyof F & string> {
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const [name, spec] of Object.entries(members)) {
    const member = sizeAlign(spec);
    offsets[name] = 0;
    size = Math.max(size, member.size);
    align = Math.max(align, member.align);
  }
  return {
    size: alignUp(size, align),
    align,
    offsets: offsets as Record<keyof F & string, number>,
    types: members,
  };
}

/** Field values by name; `u64`, `i64` and `ptr` fields are bigints. */
export type StructValues<N extends string> = Partial<
  Record<N, number | bigint>
>;

/** Which field to read, and where the struct starts in the view. */
export interface FieldAt<N extends string> {
  /** The field. */
  field: N;
  /** The struct's byte offset in the view. Default 0. */
  base?: number;
}

/** Reads a scalar field of `layout` (the struct at `base` in `view`). */
export function readField<N extends string>(
  view: DataView,
  layout: StructLayout<N>,
  options: FieldAt<N>,
): number | bigint {
  const { field } = options;
  const at = (options.base ?? 0) + layout.offsets[field];
  const type = layout.types[field];
  if (typeof type !== "string") {
    throw new TypeError(`field ${field} is not a scalar`);
  }
  switch (type) {
    case "u8":
      return view.getUint8(at);
    case "u16":
      return view.getUint16(at, true);
    case "u32":
      return view.getUint32(at, true);
    case "i32":
      return view.getInt32(at, true);
    case "u64":
    case "ptr":
      return view.getBigUint64(at, true);
    case "i64":
      return view.getBigInt64(at, true);
    default:
      throw new TypeError(`field ${field} has unknown type ${type}`);
  }
}

/** Writes `value` into a scalar field of `layout` (the struct at `base` in `view`). */
export function writeField<N extends string>(
  view: DataView,
  layout: StructLayout<N>,
  options: FieldAt<N> & { value: number | bigint },
): void {
  const { field, value } = options;
  const at = (options.base ?? 0) + layout.offsets[field];
  const type = layout.types[field];
  if (typeof type !== "string") {
    throw new TypeError(`field ${field} is not a scalar`);
  }
  switch (type) {
    case "u8":
      return view.setUint8(at, Number(value));
    case "u16":
      return view.setUint16(at, Number(value), true);
    case "u32":
      return view.setUint32(at, Number(value), true);
    case "i32":
      return view.setInt32(at, Number(value), true);
    case "u64":
    case "ptr":
      return view.setBigUint64(at, BigInt(value), true);
    case "i64":
      return view.setBigInt64(at, BigInt(value), true);
  }
}

/** Reads every scalar field of a struct at `base`. */
export function readStruct<N extends string>(
  view: DataView,
  layout: StructLayout<N>,
  options: { base?: number } = {},
): Record<N, number | bigint> {
  const out = {} as Record<N, number | bigint>;
  for (const name of Object.keys(layout.offsets) as N[]) {
    if (typeof layout.types[name] === "string") {
      out[name] = readField(view, layout, { field: name, base: options.base });
    }
  }
  return out;
}

/**
 * A zeroed struct with the given scalar fields set, as bytes ready to pass
 * as a `buffer` argument (8-byte aligned: a fresh `ArrayBuffer`).
 */
export function encodeStruct<N extends string>(
  layout: StructLayout<N>,
  values: StructValues<N> = {},
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(layout.size);
  const view = new DataView(bytes.buffer);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) {
      writeField(view, layout, {
        field: name as N,
        value: value as number | bigint,
      });
    }
  }
  return bytes;
}

/** A `DataView` over exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The address of `bytes` as a bigint, for a pointer field. Valid while
 * `bytes` is alive: keep a reference until the call that uses it returns.
 */
export function addressOf(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** A pointer from an address (null for 0). */
export function pointerAt(address: bigint | number): Deno.PointerValue {
  return Deno.UnsafePointer.create(BigInt(address));
}

/** The address of a pointer (0 for null). */
export function addressOfPointer(pointer: Deno.PointerValue): bigint {
  return BigInt(Deno.UnsafePointer.value(pointer));
}

/** A copy of `length` bytes of foreign memory at `pointer`. */
export function copyFrom(
  pointer: Deno.PointerValue,
  length: number,
  options: { offset?: number } = {},
): Uint8Array<ArrayBuffer> {
  if (pointer === null) throw new TypeError("null pointer");
  const out = new Uint8Array(length);
  if (length > 0) {
    new Deno.UnsafePointerView(pointer).copyInto(out, options.offset ?? 0);
  }
  return out;
}

/**
 * A pointer-sized out-parameter (`T**`, `HANDLE*`, `DWORD*` where 8 bytes
 * is enough): pass `.bytes` as a `buffer` argument, read it after the call.
 */
export class OutParam {
  /** The 8 bytes the callee writes. */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(8);

  /** The value written, as a pointer. */
  pointer(): Deno.PointerValue {
    return pointerAt(this.address());
  }

  /** The value written, as an address. */
  address(): bigint {
    return new DataView(this.bytes.buffer).getBigUint64(0, true);
  }

  /** The low 32 bits written (a `DWORD*`). */
  u32(): number {
    return new DataView(this.bytes.buffer).getUint32(0, true);
  }
}

/** Where {@linkcode keepAlive} parks its values (an empty body could be optimised away). */
let _kept: unknown;

/**
 * Keeps `values` reachable up to this call. A buffer whose address went
 * into a struct, or any buffer of a `nonblocking` call (which runs on
 * another thread while this one goes on), must stay alive until the call
 * has returned: call this after it. The engine may otherwise collect a
 * buffer no variable uses any more while native code still reads it.
 */
export function keepAlive(...values: unknown[]): void {
  _kept = values;
}

/**
 * Awaits a `nonblocking` call while holding `buffers` (see
 * {@linkcode keepAlive}).
 */
export async function holding<T>(
  call: Promise<T>,
  buffers: readonly unknown[],
): Promise<T> {
  try {
    return await call;
  } finally {
    keepAlive(buffers);
  }
}
