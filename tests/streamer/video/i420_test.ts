/**
 * BGRX → I420 conversion: BT.601 limited-range values of known colours,
 * 2×2 chroma averaging, regions and strides, cropping to the target, and
 * padding (odd regions, regions smaller than the target) by repeating the
 * last column and row. Every test runs on the TypeScript loop and, where
 * libyuv is installed, on libyuv; the two agree on noise.
 *
 * @module
 */
import {
  allocateI420,
  type BgrxFrame,
  bgrxToI420,
  type BgrxToI420Options,
  conversionAccelerated,
  type I420Planes,
} from "../../../mod/streamer/video/i420.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

/** A frame filled by `colour(x, y)` → [r, g, b], with `pad` spare bytes a row. */
function frameOf(
  width: number,
  height: number,
  colour: (x: number, y: number) => [number, number, number],
  pad = 0,
): BgrxFrame {
  const stride = width * 4 + pad;
  const data = new Uint8Array(stride * height).fill(0x55);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colour(x, y);
      data.set([b, g, r, 0], y * stride + x * 4);
    }
  }
  return { width, height, stride, data };
}

/** The BT.601 limited-range reference, in floating point. */
function reference(r: number, g: number, b: number): [number, number, number] {
  return [
    16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
    128 + (-37.797 * r - 74.203 * g + 112 * b) / 255,
    128 + (112 * r - 93.786 * g - 18.214 * b) / 255,
  ];
}

/** The conversion paths on this machine. */
const PATHS = [
  { name: "TypeScript", accelerate: false },
  ...(conversionAccelerated() ? [{ name: "libyuv", accelerate: true }] : []),
];

for (const { name, accelerate } of PATHS) {
  const convert = (
    frame: BgrxFrame,
    planes: I420Planes,
    options: BgrxToI420Options = {},
  ): void => bgrxToI420(frame, planes, { ...options, accelerate });

  Deno.test(`${name}: known colours convert to BT.601 limited range within one step`, () => {
    const colours: [number, number, number][] = [
      [0, 0, 0],
      [255, 255, 255],
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [128, 128, 128],
      [255, 200, 0],
      [40, 180, 220],
    ];
    for (const [r, g, b] of colours) {
      const planes = allocateI420(4, 2);
      convert(frameOf(4, 2, () => [r, g, b]), planes);
      const [y, u, v] = reference(r, g, b);
      for (
        const [got, want, what] of [
          [planes.y[0], y, "Y"],
          [planes.u[0], u, "U"],
          [planes.v[0], v, "V"],
        ] as const
      ) {
        if (Math.abs(got - want) > 1) {
          throw new Error(
            `${what} of ${r},${g},${b}: ${got}, expected ${want}`,
          );
        }
      }
    }
    // Black and white hit the ends of the luma range exactly.
    const planes = allocateI420(2, 2);
    convert(frameOf(2, 2, () => [0, 0, 0]), planes);
    assertEquals([planes.y[0], planes.u[0], planes.v[0]], [16, 128, 128]);
    convert(frameOf(2, 2, () => [255, 255, 255]), planes);
    assertEquals([planes.y[0], planes.u[0], planes.v[0]], [235, 128, 128]);
  });

  Deno.test(`${name}: chroma is the mean of each 2×2 block, luma is per pixel`, () => {
    // Left column blue, right column red: one chroma sample of the mix.
    const frame = frameOf(2, 2, (x) => x === 0 ? [0, 0, 255] : [255, 0, 0]);
    const planes = allocateI420(2, 2);
    convert(frame, planes);
    const blue = reference(0, 0, 255);
    const red = reference(255, 0, 0);
    const luma = [blue[0], red[0], blue[0], red[0]];
    assertEquals(
      Array.from(planes.y).every((y, i) => Math.abs(y - luma[i]) <= 1),
      true,
      `luma ${planes.y} for ${luma}`,
    );
    const mix = reference(127.5, 0, 127.5);
    assertEquals(Math.abs(planes.u[0] - mix[1]) <= 1, true);
    assertEquals(Math.abs(planes.v[0] - mix[2]) <= 1, true);
  });

  Deno.test(`${name}: a region of a padded-stride frame lands at the target's corner`, () => {
    // Each pixel's grey level encodes its position.
    const frame = frameOf(10, 8, (x, y) => {
      const grey = x * 10 + y;
      return [grey, grey, grey];
    }, 12);
    const planes = allocateI420(4, 4);
    convert(frame, planes, { region: { x: 3, y: 2, width: 4, height: 4 } });
    const lumaOf = (grey: number) => ((66 + 129 + 25) * grey + 128 >> 8) + 16;
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        assertEquals(planes.y[y * 4 + x], lumaOf((x + 3) * 10 + y + 2));
      }
    }
    assertEquals(Array.from(planes.u), [128, 128, 128, 128]);
  });

  Deno.test(`${name}: a region larger than the target is cropped to it`, () => {
    const frame = frameOf(8, 8, (x) => x < 4 ? [0, 0, 0] : [255, 255, 255]);
    const planes = allocateI420(4, 4);
    convert(frame, planes);
    assertEquals(Array.from(planes.y), new Array(16).fill(16));
  });

  Deno.test(`${name}: odd and small regions are padded by repeating the last column and row`, () => {
    // 3×3 region in a 6×4 target: column 2 and row 2 repeat.
    const frame = frameOf(3, 3, (x, y) => {
      const grey = x === 2 || y === 2 ? 255 : 0;
      return [grey, grey, grey];
    });
    const planes = allocateI420(6, 4);
    planes.y.fill(1);
    planes.u.fill(1);
    planes.v.fill(1);
    convert(frame, planes);
    const rows = [];
    for (let y = 0; y < 4; y++) {
      rows.push(Array.from(planes.y.subarray(y * 6, y * 6 + 6)));
    }
    assertEquals(rows, [
      [16, 16, 235, 235, 235, 235],
      [16, 16, 235, 235, 235, 235],
      [235, 235, 235, 235, 235, 235],
      [235, 235, 235, 235, 235, 235],
    ]);
    // Grey chroma everywhere, none of the fill value left.
    assertEquals(Array.from(planes.u), new Array(6).fill(128));
    assertEquals(Array.from(planes.v), new Array(6).fill(128));
  });

  Deno.test(`${name}: regions outside the frame and odd targets are refused`, () => {
    const frame = frameOf(4, 4, () => [0, 0, 0]);
    const planes = allocateI420(4, 4);
    assertThrows(
      () =>
        convert(frame, planes, {
          region: { x: 2, y: 0, width: 4, height: 4 },
        }),
      RangeError,
      /not inside/,
    );
    assertThrows(
      () =>
        convert(frame, planes, {
          region: { x: 0.5, y: 0, width: 2, height: 2 },
        }),
      RangeError,
    );
    assertThrows(() => allocateI420(3, 4), RangeError, /not even/);
    assertThrows(
      () => convert({ ...frame, data: frame.data.subarray(1) }, planes),
      RangeError,
      /cannot hold/,
    );
  });
}

Deno.test(
  "libyuv and the TypeScript loop agree: luma exactly, chroma within one step",
  { ignore: !conversionAccelerated() },
  () => {
    let seed = 1;
    const frame = frameOf(642, 362, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return [seed >>> 24, (seed >>> 16) & 0xff, (seed >>> 8) & 0xff];
    }, 20);
    const region = { x: 1, y: 1, width: 640, height: 360 };
    const slow = allocateI420(640, 360);
    const fast = allocateI420(640, 360);
    bgrxToI420(frame, slow, { region, accelerate: false });
    bgrxToI420(frame, fast, { region, accelerate: true });
    assertEquals(fast.y, slow.y);
    for (const plane of ["u", "v"] as const) {
      const worst = fast[plane].reduce(
        (max, value, i) => Math.max(max, Math.abs(value - slow[plane][i])),
        0,
      );
      assertEquals(worst <= 1, true, `${plane} differs by ${worst}`);
    }
  },
);
