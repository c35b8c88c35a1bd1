/**
 * libx264 (API build 164, Debian's `libx264-164`) through `Deno.dlopen`: the
 * parameter, picture and encoder calls an H.264 screen encoder needs.
 *
 * Parameters are set through `x264_param_parse` (x264's own name/value API)
 * wherever it can, so only a handful of `x264_param_t` offsets are needed:
 * the frame size and colour space (not parseable through the library API)
 * and some fields read back to check the layout. On first use the module
 * checks those offsets against known defaults and `x264_param_parse`
 * round trips (see {@linkcode checkLayout}), so a library with another ABI
 * fails loudly instead of encoding garbage.
 *
 * Layouts (x86-64, LP64) from `x264.h` of x264 0.164.3095 (libx264-dev
 * 2:0.164.3095+gitbaee400-3), cross-checked with `offsetof` on that header:
 *
 * ```c
 * typedef struct x264_param_t {     // sizeof 1024
 *   uint32_t cpu;                   // 0
 *   int i_threads;                  // 4
 *   int i_lookahead_threads;        // 8
 *   int b_sliced_threads;           // 12
 *   int b_deterministic, b_cpu_independent, i_sync_lookahead; // 16..24
 *   int i_width;                    // 28
 *   int i_height;                   // 32
 *   int i_csp;                      // 36
 *   int i_bitdepth, i_level_idc, i_frame_total, i_nal_hrd; // 40..52
 *   struct { int i_sar_height, i_sar_width, i_overscan, i_vidformat;
 *            int b_fullrange;       // 72
 *            int i_colorprim;       // 76
 *            int i_transfer;        // 80
 *            int i_colmatrix;       // 84
 *            int i_chroma_loc; } vui;
 *   int i_frame_reference;          // 92
 *   int i_dpb_size;                 // 96
 *   int i_keyint_max;               // 100
 *   int i_keyint_min;               // 104
 *   int i_scenecut_threshold;       // 108
 *   int b_intra_refresh;            // 112
 *   int i_bframe;                   // 116
 *   ...
 *   int b_cabac;                    // 160
 *   ...
 *   int i_log_level;                // 528
 *   ...
 *   struct { int i_rc_method;       // 656
 *            int i_qp_constant, i_qp_min, i_qp_max, i_qp_step;
 *            int i_bitrate;         // 676
 *            float f_rf_constant;   // 680
 *            float f_rf_constant_max, f_rate_tolerance;
 *            int i_vbv_max_bitrate; // 692
 *            int i_vbv_buffer_size; // 696
 *            ...
 *            int b_mb_tree;         // 724
 *            int i_lookahead;       // 728
 *            ... } rc;
 *   ...
 *   int b_aud;                      // 896
 *   int b_repeat_headers;           // 900
 *   int b_annexb;                   // 904
 *   int i_sps_id, b_vfr_input, b_pulldown;
 *   uint32_t i_fps_num;             // 920
 *   uint32_t i_fps_den;             // 924
 *   ...
 * } x264_param_t;
 *
 * typedef struct x264_picture_t {   // sizeof 240
 *   int i_type;                     // 0
 *   int i_qpplus1, i_pic_struct;    // 4, 8
 *   int b_keyframe;                 // 12
 *   int64_t i_pts;                  // 16
 *   int64_t i_dts;                  // 24
 *   x264_param_t *param;            // 32
 *   x264_image_t img;               // 40: { int i_csp;        40
 *                                   //       int i_plane;      44
 *                                   //       int i_stride[4];  48
 *                                   //       uint8_t *plane[4]; 64 }
 *   ...                             // prop, hrd_timing, extra_sei, opaque
 * } x264_picture_t;
 *
 * typedef struct x264_nal_t {       // sizeof 40
 *   int i_ref_idc;                  // 0
 *   int i_type;                     // 4
 *   int b_long_startcode, i_first_mb, i_last_mb;
 *   int i_payload;                  // 20
 *   uint8_t *p_payload;             // 24
 *   int i_padding;                  // 32
 * } x264_nal_t;
 * ```
 *
 * Calls run on the calling thread, except {@linkcode X264Encoder.encodeAsync}:
 * the same `x264_encoder_encode` marked `nonblocking`, so a 10–20 ms encode
 * of a large frame runs on Deno's blocking thread pool while the event loop
 * goes on. An encoder does one call at a time (it refuses others while an
 * asynchronous encode is in flight, and defers `close()` until it is done);
 * its input planes are copied by x264 before the encode call returns.
 *
 * @module
 */

/** The soname loaded. */
export const X264_LIBRARY = "libx264.so.164";
/** The Debian package that installs it. */
export const X264_PACKAGE = "libx264-164";

/** `X264_CSP_I420`: planar 4:2:0 Y, U, V. */
export const X264_CSP_I420 = 0x0002;
/** `X264_TYPE_AUTO`: let x264 choose the frame type. */
export const X264_TYPE_AUTO = 0x0000;
/** `X264_TYPE_IDR`: force an IDR frame. */
export const X264_TYPE_IDR = 0x0001;
/** `X264_KEYINT_MAX_INFINITE`: no periodic keyframes. */
export const X264_KEYINT_MAX_INFINITE = 1 << 30;
/** `X264_RC_CRF`. */
export const X264_RC_CRF = 1;
/** `X264_RC_ABR`. */
export const X264_RC_ABR = 2;

/** Offsets in `x264_param_t` (x86-64, build 164); see the module doc. */
export const X264_PARAM = Object.freeze({
  i_threads: 4,
  b_sliced_threads: 12,
  i_width: 28,
  i_height: 32,
  i_csp: 36,
  vui_b_fullrange: 72,
  vui_i_colorprim: 76,
  vui_i_transfer: 80,
  vui_i_colmatrix: 84,
  i_frame_reference: 92,
  i_keyint_max: 100,
  i_scenecut_threshold: 108,
  i_bframe: 116,
  b_cabac: 160,
  i_log_level: 528,
  rc_i_rc_method: 656,
  rc_i_bitrate: 676,
  rc_f_rf_constant: 680,
  rc_i_vbv_max_bitrate: 692,
  rc_i_vbv_buffer_size: 696,
  rc_i_lookahead: 728,
  b_repeat_headers: 900,
  b_annexb: 904,
  i_fps_num: 920,
  i_fps_den: 924,
  size: 1024,
});

/** Offsets in `x264_picture_t` (x86-64, build 164). */
export const X264_PICTURE = Object.freeze({
  i_type: 0,
  b_keyframe: 12,
  i_pts: 16,
  img_i_csp: 40,
  img_i_plane: 44,
  img_i_stride: 48,
  img_plane: 64,
  size: 240,
});

/** Offsets in `x264_nal_t` (x86-64, build 164). */
export const X264_NAL = Object.freeze({
  i_type: 4,
  i_payload: 20,
  p_payload: 24,
  size: 40,
});

/**
 * Bytes allocated for an `x264_param_t` or `x264_picture_t`: more than
 * either needs, so a slightly larger struct in another build could not
 * overrun it before {@linkcode checkLayout} rejects the library.
 */
const STRUCT_BUFFER = 4096;

/** The libx264 symbols bound. */
export const X264_SYMBOLS = {
  x264_param_default: { parameters: ["buffer"], result: "void" },
  x264_param_default_preset: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
  },
  x264_param_parse: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
  },
  x264_param_apply_profile: { parameters: ["buffer", "buffer"], result: "i32" },
  x264_param_cleanup: { parameters: ["buffer"], result: "void" },
  x264_picture_init: { parameters: ["buffer"], result: "void" },
  x264_encoder_open_164: { parameters: ["buffer"], result: "pointer" },
  x264_encoder_reconfig: { parameters: ["pointer", "buffer"], result: "i32" },
  x264_encoder_parameters: {
    parameters: ["pointer", "buffer"],
    result: "void",
  },
  x264_encoder_headers: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  x264_encoder_encode: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // The same call on Deno's blocking thread pool, for encodeAsync().
  x264_encoder_encode_nonblocking: {
    name: "x264_encoder_encode",
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  x264_encoder_delayed_frames: { parameters: ["pointer"], result: "i32" },
  x264_encoder_close: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw libx264 symbols. */
export type X264Symbols = Deno.DynamicLibrary<typeof X264_SYMBOLS>["symbols"];

/** libx264 cannot be loaded, rejected its input, or has another ABI. */
export class X264Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "X264Error";
  }
}

let library: Deno.DynamicLibrary<typeof X264_SYMBOLS> | undefined;
let loadError: X264Error | undefined;

/**
 * libx264's symbols, loaded once and checked with {@linkcode checkLayout}.
 * Throws an {@linkcode X264Error} naming the library and its Debian package
 * when it is missing.
 */
export function openX264(): X264Symbols {
  if (library) return library.symbols;
  if (loadError) throw loadError;
  let opened: Deno.DynamicLibrary<typeof X264_SYMBOLS>;
  try {
    opened = Deno.dlopen(X264_LIBRARY, X264_SYMBOLS);
  } catch (error) {
    loadError = new X264Error(
      `cannot load ${X264_LIBRARY} (install the Debian package ${X264_PACKAGE}): ${
        (error as Error).message
      }`,
    );
    throw loadError;
  }
  try {
    checkLayout(opened.symbols);
  } catch (error) {
    opened.close();
    loadError = error as X264Error;
    throw error;
  }
  library = opened;
  return opened.symbols;
}

/** Whether libx264 loads and passes the layout checks. */
export function x264Available(): boolean {
  try {
    openX264();
    return true;
  } catch {
    return false;
  }
}

/** A NUL-terminated C string. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/**
 * Checks the `x264_param_t` offsets this module uses against the library:
 * `x264_param_default` values documented in x264 (keyint 250, 3 B-frames,
 * 25/1 fps, Annex B with repeated headers, CRF 23, I420, no size yet), then
 * values written by `x264_param_parse` read back at our offsets. Throws an
 * {@linkcode X264Error} on the first mismatch.
 */
export function checkLayout(symbols: X264Symbols): void {
  const param = new X264Param(symbols);
  symbols.x264_param_default(param.bytes);
  const expect = (field: keyof typeof X264_PARAM, value: number) => {
    const actual = field === "rc_f_rf_constant"
      ? param.float(X264_PARAM[field])
      : param.int(X264_PARAM[field]);
    if (actual !== value) {
      throw new X264Error(
        `${X264_LIBRARY} does not have the x264 build 164 x86-64 layout: ` +
          `x264_param_t.${field} at ${
            X264_PARAM[field]
          } is ${actual}, expected ${value}`,
      );
    }
  };
  expect("i_width", 0);
  expect("i_height", 0);
  expect("i_csp", X264_CSP_I420);
  expect("i_keyint_max", 250);
  expect("i_bframe", 3);
  expect("i_fps_num", 25);
  expect("i_fps_den", 1);
  expect("b_annexb", 1);
  expect("b_repeat_headers", 1);
  expect("b_cabac", 1);
  expect("rc_i_rc_method", X264_RC_CRF);
  expect("rc_f_rf_constant", 23);
  const parsed: [string, string, keyof typeof X264_PARAM, number][] = [
    ["threads", "3", "i_threads", 3],
    ["sliced-threads", "1", "b_sliced_threads", 1],
    ["keyint", "infinite", "i_keyint_max", X264_KEYINT_MAX_INFINITE],
    ["scenecut", "17", "i_scenecut_threshold", 17],
    ["bframes", "2", "i_bframe", 2],
    ["ref", "5", "i_frame_reference", 5],
    ["log", "-1", "i_log_level", -1],
    ["bitrate", "1234", "rc_i_bitrate", 1234],
    ["vbv-maxrate", "777", "rc_i_vbv_max_bitrate", 777],
    ["vbv-bufsize", "555", "rc_i_vbv_buffer_size", 555],
    ["rc-lookahead", "7", "rc_i_lookahead", 7],
    ["annexb", "0", "b_annexb", 0],
    ["repeat-headers", "0", "b_repeat_headers", 0],
    ["fps", "30000/1001", "i_fps_num", 30000],
    ["fullrange", "on", "vui_b_fullrange", 1],
    ["colorprim", "bt709", "vui_i_colorprim", 1],
    ["transfer", "iec61966-2-1", "vui_i_transfer", 13],
    ["colormatrix", "smpte170m", "vui_i_colmatrix", 6],
  ];
  for (const [name, value, field, expected] of parsed) {
    param.parse(name, value);
    expect(field, expected);
  }
  expect("i_fps_den", 1001);
  // "bitrate" switches rate control to ABR.
  expect("rc_i_rc_method", X264_RC_ABR);
  param.cleanup();
}

/**
 * An `x264_param_t` in memory of our own, filled by x264's preset, tune,
 * `x264_param_parse` and profile calls.
 */
export class X264Param {
  /** The struct's memory (larger than the struct). */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(STRUCT_BUFFER);
  readonly #view = new DataView(this.bytes.buffer);
  readonly #symbols: X264Symbols;

  /** An all-zero parameter block; fill it with {@linkcode X264Param.preset}. */
  constructor(symbols: X264Symbols = openX264()) {
    this.#symbols = symbols;
  }

  /** `x264_param_default_preset(preset, tune)`. */
  preset(preset: string, tune?: string): this {
    const result = this.#symbols.x264_param_default_preset(
      this.bytes,
      cString(preset),
      tune === undefined ? null : cString(tune),
    );
    if (result < 0) {
      throw new X264Error(`x264 has no preset "${preset}" or tune "${tune}"`);
    }
    return this;
  }

  /** `x264_param_parse(name, value)`; throws on an unknown name or bad value. */
  parse(name: string, value: string): this {
    const result = this.#symbols.x264_param_parse(
      this.bytes,
      cString(name),
      cString(value),
    );
    if (result !== 0) {
      const why = result === -1
        ? "unknown option"
        : result === -2
        ? "bad value"
        : `error ${result}`;
      throw new X264Error(`x264 option ${name}=${value}: ${why}`);
    }
    return this;
  }

  /** `x264_param_apply_profile(profile)` ("baseline", "main", "high"). */
  applyProfile(profile: string): this {
    if (this.#symbols.x264_param_apply_profile(this.bytes, cString(profile))) {
      throw new X264Error(`x264 cannot apply profile "${profile}"`);
    }
    return this;
  }

  /** Sets the frame size and input colour space (not parseable by name). */
  setSize(width: number, height: number, csp = X264_CSP_I420): this {
    this.setInt(X264_PARAM.i_width, width);
    this.setInt(X264_PARAM.i_height, height);
    this.setInt(X264_PARAM.i_csp, csp);
    return this;
  }

  /** The `int` at `offset`. */
  int(offset: number): number {
    return this.#view.getInt32(offset, true);
  }

  /** The `float` at `offset`. */
  float(offset: number): number {
    return this.#view.getFloat32(offset, true);
  }

  /** Writes the `int` at `offset`. */
  setInt(offset: number, value: number): void {
    this.#view.setInt32(offset, value, true);
  }

  /** `x264_param_cleanup`: frees what `x264_param_parse` allocated. */
  cleanup(): void {
    this.#symbols.x264_param_cleanup(this.bytes);
  }
}

/**
 * An `x264_picture_t` whose I420 planes are JavaScript memory of our own:
 * the Y plane `width × height`, U and V `width/2 × height/2` (even sizes).
 */
export class X264Picture {
  /** The struct's memory. */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(STRUCT_BUFFER);
  /** Luma plane, `width` bytes a row. */
  readonly y: Uint8Array<ArrayBuffer>;
  /** Cb plane, `width / 2` bytes a row. */
  readonly u: Uint8Array<ArrayBuffer>;
  /** Cr plane, `width / 2` bytes a row. */
  readonly v: Uint8Array<ArrayBuffer>;
  readonly #view = new DataView(this.bytes.buffer);

  /** A picture for an even `width × height`. */
  constructor(
    width: number,
    height: number,
    symbols: X264Symbols = openX264(),
  ) {
    if (width % 2 || height % 2 || width <= 0 || height <= 0) {
      throw new RangeError(`I420 picture size ${width}×${height} is not even`);
    }
    symbols.x264_picture_init(this.bytes);
    // Explicit ArrayBuffers live outside the V8 heap, so their addresses stay put.
    this.y = new Uint8Array(new ArrayBuffer(width * height));
    this.u = new Uint8Array(new ArrayBuffer((width / 2) * (height / 2)));
    this.v = new Uint8Array(new ArrayBuffer((width / 2) * (height / 2)));
    const view = this.#view;
    view.setInt32(X264_PICTURE.img_i_csp, X264_CSP_I420, true);
    view.setInt32(X264_PICTURE.img_i_plane, 3, true);
    const strides = [width, width / 2, width / 2];
    const planes = [this.y, this.u, this.v];
    for (let i = 0; i < 3; i++) {
      view.setInt32(X264_PICTURE.img_i_stride + i * 4, strides[i], true);
      view.setBigUint64(
        X264_PICTURE.img_plane + i * 8,
        BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(planes[i]))),
        true,
      );
    }
  }

  /** The frame type asked for (`X264_TYPE_AUTO` or `X264_TYPE_IDR`). */
  set type(type: number) {
    this.#view.setInt32(X264_PICTURE.i_type, type, true);
  }

  /** The presentation timestamp passed to x264. */
  set pts(pts: number) {
    this.#view.setBigInt64(X264_PICTURE.i_pts, BigInt(pts), true);
  }
}

/** One access unit from {@linkcode X264Encoder.encode}. */
export interface X264Output {
  /** The NAL units, back to back (Annex B when `annexb` is on). */
  data: Uint8Array<ArrayBuffer>;
  /** NAL unit types in order (7 SPS, 8 PPS, 5 IDR slice, 1 slice, 6 SEI). */
  nalTypes: number[];
  /** Whether x264 marked the frame a keyframe. */
  keyframe: boolean;
  /** The frame type x264 coded (`X264_TYPE_IDR` = 1, P = 3, …). */
  type: number;
}

/** An open `x264_t` encoder. */
export class X264Encoder {
  readonly #symbols: X264Symbols;
  #handle: Deno.PointerValue;
  readonly #nals = new BigUint64Array(1);
  readonly #count = new Int32Array(1);
  readonly #out = new Uint8Array(STRUCT_BUFFER);
  readonly #outView = new DataView(this.#out.buffer);
  #busy = false;
  #closeWhenIdle = false;

  /** `x264_encoder_open` with `param` (copied by x264). */
  constructor(param: X264Param, symbols: X264Symbols = openX264()) {
    this.#symbols = symbols;
    this.#handle = symbols.x264_encoder_open_164(param.bytes);
    if (!this.#handle) {
      throw new X264Error(
        `x264_encoder_open rejected the parameters (${
          param.int(X264_PARAM.i_width)
        }×${param.int(X264_PARAM.i_height)})`,
      );
    }
  }

  /** Whether {@linkcode X264Encoder.close} has been called. */
  get closed(): boolean {
    return this.#handle === null || this.#closeWhenIdle;
  }

  #live(): Deno.PointerObject {
    if (!this.#handle || this.#closeWhenIdle) {
      throw new X264Error("the x264 encoder is closed");
    }
    if (this.#busy) {
      throw new X264Error("the x264 encoder is busy with an encodeAsync()");
    }
    return this.#handle;
  }

  /**
   * `x264_encoder_encode` of `picture`; undefined when x264 produced nothing
   * (it is holding the frame back).
   */
  encode(picture: X264Picture): X264Output | undefined {
    const size = this.#symbols.x264_encoder_encode(
      this.#live(),
      this.#nals,
      this.#count,
      picture.bytes,
      this.#out,
    );
    return this.#output(size);
  }

  /**
   * {@linkcode X264Encoder.encode} off the event loop: the call runs on
   * Deno's blocking thread pool. `picture` must not change until the promise
   * settles; no other call may be made on this encoder meanwhile.
   */
  async encodeAsync(picture: X264Picture): Promise<X264Output | undefined> {
    const handle = this.#live();
    this.#busy = true;
    try {
      const size = await this.#symbols.x264_encoder_encode_nonblocking(
        handle,
        this.#nals,
        this.#count,
        picture.bytes,
        this.#out,
      );
      return this.#output(size);
    } finally {
      this.#busy = false;
      if (this.#closeWhenIdle) this.close();
    }
  }

  /** Whether an {@linkcode X264Encoder.encodeAsync} is in flight. */
  get busy(): boolean {
    return this.#busy;
  }

  #output(size: number): X264Output | undefined {
    if (size < 0) throw new X264Error(`x264_encoder_encode failed (${size})`);
    if (size === 0) return undefined;
    const { data, nalTypes } = this.#collect(size);
    return {
      data,
      nalTypes,
      keyframe: this.#outView.getInt32(X264_PICTURE.b_keyframe, true) !== 0,
      type: this.#outView.getInt32(X264_PICTURE.i_type, true),
    };
  }

  /** `x264_encoder_headers`: the SPS and PPS the stream uses. */
  headers(): { data: Uint8Array<ArrayBuffer>; nalTypes: number[] } {
    const size = this.#symbols.x264_encoder_headers(
      this.#live(),
      this.#nals,
      this.#count,
    );
    if (size < 0) throw new X264Error(`x264_encoder_headers failed (${size})`);
    return this.#collect(size);
  }

  /** `x264_encoder_reconfig`: applies what x264 allows to change live. */
  reconfig(param: X264Param): void {
    const result = this.#symbols.x264_encoder_reconfig(
      this.#live(),
      param.bytes,
    );
    if (result < 0) {
      throw new X264Error(`x264_encoder_reconfig failed (${result})`);
    }
  }

  /** `x264_encoder_parameters`: the parameters as the encoder uses them. */
  parameters(): X264Param {
    const param = new X264Param(this.#symbols);
    this.#symbols.x264_encoder_parameters(this.#live(), param.bytes);
    return param;
  }

  /** `x264_encoder_delayed_frames`: frames held back. */
  delayedFrames(): number {
    return this.#symbols.x264_encoder_delayed_frames(this.#live());
  }

  /**
   * `x264_encoder_close`, once an encode in flight is done; later calls do
   * nothing.
   */
  close(): void {
    if (!this.#handle) return;
    if (this.#busy) {
      this.#closeWhenIdle = true;
      return;
    }
    this.#symbols.x264_encoder_close(this.#handle);
    this.#handle = null;
    this.#closeWhenIdle = false;
  }

  /** Copies out the NAL units of the last call (sequential in memory). */
  #collect(
    size: number,
  ): { data: Uint8Array<ArrayBuffer>; nalTypes: number[] } {
    const count = this.#count[0];
    const array = Deno.UnsafePointer.create(this.#nals[0]);
    if (!array || count <= 0) {
      throw new X264Error(`x264 returned ${size} bytes in no NAL units`);
    }
    const nals = new Deno.UnsafePointerView(array);
    const nalTypes: number[] = [];
    for (let i = 0; i < count; i++) {
      nalTypes.push(nals.getInt32(i * X264_NAL.size + X264_NAL.i_type));
    }
    const first = nals.getPointer(X264_NAL.p_payload);
    if (!first) throw new X264Error("x264 returned a NAL unit without payload");
    const data = new Uint8Array(size);
    Deno.UnsafePointerView.copyInto(first, data);
    return { data, nalTypes };
  }
}
