/**
 * A fake gdi32 over a {@linkcode FakeDisplay}: memory DCs, compatible
 * bitmaps, `BitBlt` from a screen DC, and `GetDIBits` that reads the
 * caller's `BITMAPINFOHEADER` from real memory at the SDK's offsets
 * (biSize @0, biWidth @4, biHeight @8, biPlanes @12, biBitCount @14,
 * biCompression @16) and writes the rows into the caller's buffer: top-down
 * for a negative height, bottom-up otherwise, as GDI does.
 *
 * It holds the caller to GDI's contract and refuses (or records in
 * `display.violations`) what Windows would refuse or what misbehaves there:
 * a bitmap selected into two DCs, `GetDIBits` of a bitmap still selected
 * into a DC, deleting a selected bitmap, a monochrome bitmap made from a
 * fresh memory DC, a header that is not 32-bit `BI_RGB`, a copy from a
 * desktop that does not have the input.
 *
 * @module
 */
import type { Gdi32Symbols } from "../../../ffi/windows/gdi32.ts";
import { addressOfPointer, pointerAt } from "../../../ffi/windows/struct.ts";
import {
  type BufferArg,
  bufferBytes,
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
} from "./fake_kernel32.ts";
import {
  type FakeBitmap,
  type FakeDisplay,
  realMemory,
} from "./fake_user32.ts";

/** The raw gdi32 functions over `display`. */
export function fakeGdi32(display: FakeDisplay): Gdi32Symbols {
  const fail = (code: number): 0 => display.kernel32.fail(code);
  const bitmapOf = (p: Deno.PointerValue): FakeBitmap | undefined => {
    const o = display.object(p);
    return o?.kind === "bitmap" ? o : undefined;
  };
  const handleOf = (p: Deno.PointerValue) =>
    p === null ? 0n : addressOfPointer(p);

  return {
    CreateCompatibleDC: (dc) => {
      if (dc !== null && !display.object(dc)) {
        fail(ERROR_INVALID_HANDLE);
        return null;
      }
      const h = display.add({
        kind: "memoryDC",
        selected: display.stockBitmap,
      });
      return pointerAt(h);
    },
    CreateCompatibleBitmap: (dc, width, height) => {
      const o = display.object(dc);
      if (!o || o.kind === "bitmap" || width <= 0 || height <= 0) {
        fail(ERROR_INVALID_PARAMETER);
        return null;
      }
      // A memory DC's format is its selected bitmap's: the stock one is
      // monochrome, the classic mistake.
      let bits: 1 | 32 = 32;
      if (o.kind === "memoryDC") {
        const selected = display.objects.get(o.selected) as FakeBitmap;
        bits = selected.bits;
        if (bits === 1) {
          display.violations.push(
            "CreateCompatibleBitmap from a memory DC: monochrome",
          );
        }
      }
      const pixels = new Uint8Array(
        bits === 32 ? width * height * 4 : width * height,
      );
      return pointerAt(display.add({
        kind: "bitmap",
        width,
        height,
        bits,
        pixels,
      }));
    },
    SelectObject: (dc, object) => {
      const o = display.object(dc);
      const bitmap = bitmapOf(object);
      if (o?.kind !== "memoryDC" || !bitmap) return null;
      const h = handleOf(object);
      if (
        bitmap.selectedInto !== undefined &&
        bitmap.selectedInto !== handleOf(dc)
      ) {
        // A bitmap can be selected into one DC at a time.
        display.violations.push("SelectObject: bitmap selected in another DC");
        return null;
      }
      const previous = o.selected;
      const old = display.objects.get(previous) as FakeBitmap | undefined;
      if (old && !old.stock) old.selectedInto = undefined;
      o.selected = h;
      if (!bitmap.stock) bitmap.selectedInto = handleOf(dc);
      return pointerAt(previous);
    },
    DeleteObject: (object) => {
      const o = display.object(object);
      if (!o || o.kind !== "bitmap") return 0;
      if (o.stock) return 1;
      if (o.selectedInto !== undefined) {
        display.violations.push("DeleteObject: bitmap still selected");
        return 0;
      }
      display.objects.delete(handleOf(object));
      return 1;
    },
    DeleteDC: (dc) => {
      const o = display.object(dc);
      if (o?.kind !== "memoryDC") return 0;
      const selected = display.objects.get(o.selected) as FakeBitmap;
      if (selected && !selected.stock) selected.selectedInto = undefined;
      display.objects.delete(handleOf(dc));
      return 1;
    },
    BitBlt: (target, x, y, width, height, source, x1, y1, rop) => {
      display.rops.push(rop);
      const t = display.object(target);
      const s = display.object(source);
      if (t?.kind !== "memoryDC" || s?.kind !== "screenDC") {
        return fail(ERROR_INVALID_HANDLE);
      }
      // Only the desktop with the input can be read.
      if (s.desktop !== display.inputDesktop) return fail(ERROR_ACCESS_DENIED);
      const bitmap = display.objects.get(t.selected) as FakeBitmap;
      if (bitmap.bits !== 32) return fail(ERROR_INVALID_PARAMETER);
      for (let row = 0; row < height; row++) {
        const ty = y + row;
        if (ty < 0 || ty >= bitmap.height) continue;
        for (let col = 0; col < width; col++) {
          const tx = x + col;
          if (tx < 0 || tx >= bitmap.width) continue;
          const pixel = display.screenPixel(x1 + col, y1 + row);
          bitmap.pixels.set(pixel, (ty * bitmap.width + tx) * 4);
        }
      }
      return 1;
    },
    GetDIBits: (dc, object, start, lines, bits, info, usage) => {
      const bitmap = bitmapOf(object);
      if (!display.object(dc) || !bitmap) return fail(ERROR_INVALID_HANDLE);
      if (bitmap.selectedInto !== undefined) {
        display.violations.push("GetDIBits: bitmap still selected into a DC");
        return fail(ERROR_INVALID_PARAMETER);
      }
      const header = new DataView(realMemory(info, 40).buffer);
      const biSize = header.getUint32(0, true);
      const biWidth = header.getInt32(4, true);
      const biHeight = header.getInt32(8, true);
      const biPlanes = header.getUint16(12, true);
      const biBitCount = header.getUint16(14, true);
      const biCompression = header.getUint32(16, true);
      if (
        biSize !== 40 || biPlanes !== 1 || biBitCount !== 32 ||
        biCompression !== 0 || usage !== 0 || bits === null
      ) {
        display.violations.push(
          `GetDIBits: header size ${biSize}, planes ${biPlanes}, ${biBitCount} bpp, compression ${biCompression}, usage ${usage}`,
        );
        return fail(ERROR_INVALID_PARAMETER);
      }
      if (
        biWidth !== bitmap.width || Math.abs(biHeight) !== bitmap.height ||
        start !== 0 || lines > bitmap.height
      ) {
        display.violations.push(
          `GetDIBits: ${biWidth}×${biHeight} lines ${start}+${lines} of a ${bitmap.width}×${bitmap.height} bitmap`,
        );
        return fail(ERROR_INVALID_PARAMETER);
      }
      const stride = biWidth * 4;
      checkRoom(bits, stride * lines);
      const out = realMemory(bits, stride * lines);
      const topDown = biHeight < 0;
      for (let row = 0; row < lines; row++) {
        // Bottom-up DIBs start with the bitmap's last row.
        const source = topDown ? row : bitmap.height - 1 - row;
        for (let col = 0; col < biWidth; col++) {
          const o = row * stride + col * 4;
          const i = source * bitmap.width + col;
          if (bitmap.bits === 32) {
            out.set(bitmap.pixels.subarray(i * 4, i * 4 + 4), o);
          } else {
            // A monochrome bitmap's colour table is black, white.
            const v = bitmap.pixels[i] ? 0xff : 0;
            out.set([v, v, v, 0], o);
          }
        }
      }
      return lines;
    },
    GetObjectW: (object, size, out) => {
      const bitmap = bitmapOf(object);
      if (!bitmap) return 0;
      if (size < 32) return 0;
      const memory = new DataView(realMemory(out, 32).buffer);
      memory.setInt32(0, 0, true); // bmType
      memory.setInt32(4, bitmap.width, true);
      memory.setInt32(8, bitmap.height, true);
      // Rows of a DDB are WORD aligned.
      const widthBytes = Math.ceil(bitmap.width * bitmap.bits / 16) * 2;
      memory.setInt32(12, widthBytes, true);
      memory.setUint16(16, 1, true);
      memory.setUint16(18, bitmap.bits, true);
      memory.setBigUint64(24, 0n, true);
      return 32;
    },
  };
}

function checkRoom(bits: BufferArg, length: number): void {
  if (bufferBytes(bits).byteLength < length) {
    throw new RangeError(`fake GetDIBits: buffer shorter than ${length} bytes`);
  }
}

/** user32, gdi32 and kernel32 over `display`, as the capture and sink take them. */
export function fakeGraphicsLibraries(display: FakeDisplay): {
  user32: FakeDisplay["user32"];
  gdi32: Gdi32Symbols;
  kernel32: FakeDisplay["kernel32"]["symbols"];
} {
  return {
    user32: display.user32,
    gdi32: fakeGdi32(display),
    kernel32: display.kernel32.symbols,
  };
}
