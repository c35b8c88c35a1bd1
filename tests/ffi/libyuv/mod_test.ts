/**
 * The libyuv binding against the real `libyuv.so.0`: `ARGBToI420` reads
 * BGRX memory (blue first) with a row stride, writes planes with their own
 * strides, and buffers too small for the size are refused before libyuv
 * (which does not check) could overrun them.
 *
 * @module
 */
import { argbToI420, libyuvAvailable } from "../../../ffi/libyuv/mod.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const OPTIONS = { ignore: !libyuvAvailable() };

Deno.test(
  "ARGBToI420 converts BGRX with strides to BT.601 limited range",
  OPTIONS,
  () => {
    // 4×2 pixels, 24 bytes a row: left half pure blue, right half white.
    const stride = 24;
    const data = new Uint8Array(stride * 2).fill(0x77);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 4; x++) {
        data.set(
          x < 2 ? [255, 0, 0, 0] : [255, 255, 255, 0],
          y * stride + x * 4,
        );
      }
    }
    // Planes wider than the picture: strides 6 and 3, spare bytes untouched.
    const y = new Uint8Array(12).fill(1);
    const u = new Uint8Array(6).fill(1);
    const v = new Uint8Array(6).fill(1);
    argbToI420({ data, stride }, { y, strideY: 6, u, v, strideUV: 3 }, {
      width: 4,
      height: 2,
    });
    // Blue: Y 41, U 240, V 110; white: Y 235, U = V = 128.
    const row = [41, 41, 235, 235, 1, 1];
    assertEquals(Array.from(y), [...row, ...row]);
    // Chroma within one step of the reference (libyuv rounds its own way).
    const near = (got: number, want: number) => Math.abs(got - want) <= 1;
    assertEquals([near(u[0], 240), near(v[0], 110)], [true, true]);
    assertEquals([u[1], v[1]], [128, 128]);
    assertEquals([...u.subarray(2), ...v.subarray(2)], new Array(8).fill(1));
  },
);

Deno.test("buffers too small or odd sizes are refused", OPTIONS, () => {
  const y = new Uint8Array(16);
  const u = new Uint8Array(4);
  const v = new Uint8Array(4);
  const planes = { y, strideY: 4, u, v, strideUV: 2 };
  assertThrows(
    () =>
      argbToI420({ data: new Uint8Array(63), stride: 16 }, planes, {
        width: 4,
        height: 4,
      }),
    RangeError,
  );
  assertThrows(
    () =>
      argbToI420({ data: new Uint8Array(64), stride: 16 }, planes, {
        width: 3,
        height: 4,
      }),
    RangeError,
  );
});
