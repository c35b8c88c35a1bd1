/**
 * MIT-SHM screen images: libXext's `XShm*` calls and the libc System V
 * shared memory calls behind them. An {@linkcode ShmImage} is one XImage whose
 * pixels live in a shared segment the X server writes into, so grabbing the
 * screen costs the server one copy and the client none.
 *
 * The segment is marked for removal (`IPC_RMID`) as soon as the server has
 * attached it, so it disappears with the last detach even if this process
 * dies without cleaning up.
 *
 * Layouts (x64, LP64) relied on, from `<X11/extensions/XShm.h>`:
 *
 * ```c
 * typedef struct {
 *   ShmSeg shmseg;   // unsigned long, offset 0
 *   int shmid;       // offset 8
 *   char *shmaddr;   // offset 16
 *   Bool readOnly;   // offset 24
 * } XShmSegmentInfo; // size 32
 * ```
 *
 * @module
 */
import { loadLibrary, X11Error, type XDisplay } from "./display.ts";
import {
  ALL_PLANES,
  destroyImage,
  readXImage,
  visualOf,
  XIMAGE,
  type XImageInfo,
  Z_PIXMAP,
} from "./image.ts";

/** Offsets in `XShmSegmentInfo` (x64). */
export const XSHM_SEGMENT_INFO = Object.freeze({
  shmseg: 0,
  shmid: 8,
  shmaddr: 16,
  readOnly: 24,
  size: 32,
});

const XEXT_SYMBOLS = {
  XShmQueryExtension: { parameters: ["pointer"], result: "i32" },
  XShmCreateImage: {
    parameters: [
      "pointer",
      "pointer",
      "u32",
      "i32",
      "pointer",
      "pointer",
      "u32",
      "u32",
    ],
    result: "pointer",
  },
  XShmAttach: { parameters: ["pointer", "pointer"], result: "i32" },
  XShmDetach: { parameters: ["pointer", "pointer"], result: "i32" },
  XShmGetImage: {
    parameters: ["pointer", "u64", "pointer", "i32", "i32", "u64"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

const LIBC_SYMBOLS = {
  shmget: { parameters: ["i32", "usize", "i32"], result: "i32" },
  shmat: { parameters: ["i32", "pointer", "i32"], result: "pointer" },
  shmdt: { parameters: ["pointer"], result: "i32" },
  shmctl: { parameters: ["i32", "i32", "pointer"], result: "i32" },
  calloc: { parameters: ["usize", "usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `IPC_PRIVATE`: a new segment with no key. */
const IPC_PRIVATE = 0;
/** `IPC_CREAT`. */
const IPC_CREAT = 0o1000;
/** `IPC_RMID`: remove once the last process detaches. */
export const IPC_RMID = 0;

let xext: Deno.DynamicLibrary<typeof XEXT_SYMBOLS> | undefined;
let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;

/** libXext's MIT-SHM symbols, loaded once. */
export function xshm(): Deno.DynamicLibrary<typeof XEXT_SYMBOLS>["symbols"] {
  xext ??= loadLibrary(["libXext.so.6", "libXext.so"], XEXT_SYMBOLS, {
    package: "libxext6",
  });
  return xext.symbols;
}

/** The libc symbols this module uses, loaded once. */
export function sysv(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  libc ??= loadLibrary(["libc.so.6"], LIBC_SYMBOLS, { package: "libc6" });
  return libc.symbols;
}

/** The calling thread's `errno`. */
function errno(): number {
  const at = sysv().__errno_location();
  return at ? new Deno.UnsafePointerView(at).getInt32(0) : 0;
}

/** Whether the server offers MIT-SHM to this client. */
export function shmAvailable(display: XDisplay): boolean {
  return xshm().XShmQueryExtension(display.pointer) !== 0;
}

/** Whether shared memory segment `shmid` still exists (`IPC_STAT`). */
export function segmentExists(shmid: number): boolean {
  // struct shmid_ds is 112 bytes on x64; a larger buffer is harmless.
  const IPC_STAT = 2;
  const buffer = new Uint8Array(256);
  return sysv().shmctl(shmid, IPC_STAT, Deno.UnsafePointer.of(buffer)) === 0;
}

/**
 * A screen-sized ZPixmap XImage in a shared memory segment the X server
 * writes into.
 */
export class ShmImage {
  /** The display the segment is attached to. */
  readonly display: XDisplay;
  /** The `XImage *`. */
  readonly image: Deno.PointerObject;
  /** The image's fields as created. */
  readonly info: XImageInfo;
  /** The System V segment id (already marked for removal). */
  readonly shmid: number;
  /** Where the segment is mapped in this process. */
  readonly address: Deno.PointerObject;
  /** Every pixel of the segment: `info.bytesPerLine * info.height` bytes. */
  readonly pixels: Uint8Array<ArrayBuffer>;
  readonly #segment: Deno.PointerObject;
  #destroyed = false;

  private constructor(
    display: XDisplay,
    parts: {
      image: Deno.PointerObject;
      info: XImageInfo;
      shmid: number;
      address: Deno.PointerObject;
      segment: Deno.PointerObject;
    },
  ) {
    this.display = display;
    this.image = parts.image;
    this.info = parts.info;
    this.shmid = parts.shmid;
    this.address = parts.address;
    this.#segment = parts.segment;
    this.pixels = new Uint8Array(
      Deno.UnsafePointerView.getArrayBuffer(
        parts.address,
        parts.info.bytesPerLine * parts.info.height,
      ),
    );
  }

  /**
   * Creates a `width`×`height` image in the screen's default visual and
   * depth and has the server attach its segment. Throws {@linkcode X11Error}
   * when any step fails (everything made so far is released); the server
   * refusing the segment (another user's server, say) only shows on the
   * first grab, so callers should try one.
   */
  static create(display: XDisplay, width: number, height: number): ShmImage {
    const c = sysv();
    const x = xshm();
    // Xlib keeps a pointer to the segment info in the image (obdata), so it
    // must live in native memory that never moves.
    const segment = c.calloc(1n, BigInt(XSHM_SEGMENT_INFO.size));
    if (!segment) throw new X11Error("calloc failed");
    const image = x.XShmCreateImage(
      display.pointer,
      visualOf(display),
      display.depth(),
      Z_PIXMAP,
      null,
      segment,
      width,
      height,
    );
    if (!image) {
      c.free(segment);
      throw new X11Error("XShmCreateImage failed");
    }
    const info = readXImage(image);
    const size = info.bytesPerLine * info.height;
    const shmid = c.shmget(IPC_PRIVATE, BigInt(size), IPC_CREAT | 0o600);
    if (shmid < 0) {
      const code = errno();
      destroyImage(image);
      c.free(segment);
      throw new X11Error(`shmget(${size}) failed: errno ${code}`);
    }
    const address = c.shmat(shmid, null, 0);
    if (!address || Deno.UnsafePointer.value(address) === 0xffffffffffffffffn) {
      const code = errno();
      c.shmctl(shmid, IPC_RMID, null);
      destroyImage(image);
      c.free(segment);
      throw new X11Error(`shmat failed: errno ${code}`);
    }
    const addressValue = BigInt(Deno.UnsafePointer.value(address));
    const seg = new DataView(
      Deno.UnsafePointerView.getArrayBuffer(segment, XSHM_SEGMENT_INFO.size),
    );
    seg.setInt32(XSHM_SEGMENT_INFO.shmid, shmid, true);
    seg.setBigUint64(XSHM_SEGMENT_INFO.shmaddr, addressValue, true);
    seg.setInt32(XSHM_SEGMENT_INFO.readOnly, 0, true);
    new DataView(Deno.UnsafePointerView.getArrayBuffer(image, XIMAGE.size))
      .setBigUint64(XIMAGE.data, addressValue, true);
    const attached = x.XShmAttach(display.pointer, segment) !== 0;
    // The server attaches while handling the request: only after the round
    // trip may the segment be marked for removal.
    display.sync();
    c.shmctl(shmid, IPC_RMID, null);
    if (!attached) {
      c.shmdt(address);
      destroyImage(image);
      c.free(segment);
      throw new X11Error("XShmAttach failed");
    }
    return new ShmImage(display, {
      image,
      info: { ...info, data: address },
      shmid,
      address,
      segment,
    });
  }

  /**
   * Has the server write the `width`×`height` area at (`x`, `y`) of
   * `drawable` into the start of the segment, rows `width * 4` bytes apart
   * (the whole image when no size is given). Returns the row stride, or
   * `undefined` when the server refused (such as a segment it could not
   * attach, or an area outside the drawable).
   */
  get(
    drawable: bigint,
    area: { x: number; y: number; width?: number; height?: number } = {
      x: 0,
      y: 0,
    },
  ): number | undefined {
    if (this.#destroyed) throw new X11Error("SHM image is destroyed");
    const x = xshm();
    const whole = area.width === undefined ||
      (area.width === this.info.width && area.height === this.info.height);
    if (whole) {
      const ok = x.XShmGetImage(
        this.display.pointer,
        drawable,
        this.image,
        area.x,
        area.y,
        ALL_PLANES,
      );
      return ok ? this.info.bytesPerLine : undefined;
    }
    // A smaller header over the same segment: the server writes the area
    // packed at the segment's start (headers cost a malloc, no request).
    const header = x.XShmCreateImage(
      this.display.pointer,
      visualOf(this.display),
      this.info.depth,
      Z_PIXMAP,
      this.address,
      this.#segment,
      area.width!,
      area.height!,
    );
    if (!header) throw new X11Error("XShmCreateImage failed");
    try {
      const ok = x.XShmGetImage(
        this.display.pointer,
        drawable,
        header,
        area.x,
        area.y,
        ALL_PLANES,
      );
      return ok ? readXImage(header).bytesPerLine : undefined;
    } finally {
      destroyImage(header);
    }
  }

  /** Whether {@linkcode ShmImage.destroy} ran. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Detaches the segment from the server and this process and frees the
   * image (once). `pixels` must not be touched afterwards.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (!this.display.closed) {
      xshm().XShmDetach(this.display.pointer, this.#segment);
      this.display.sync();
    }
    sysv().shmdt(this.address);
    // XShmCreateImage's destroy_image frees the XImage struct only.
    destroyImage(this.image);
    sysv().free(this.#segment);
  }
}
