/**
 * Tests for `ffi/x11/shm.ts` against a real Xvfb: the `XShmSegmentInfo`
 * offsets against the documented x64 layout; MIT-SHM offered (and not, when
 * the server runs without it); a screen-sized shared image whose segment is
 * attached by both this process and the server yet already marked for
 * removal (so it cannot leak), and is gone after `destroy()`; the server
 * writing painted pixels into the segment (whole screen and a packed area);
 * an area outside the screen refused; and (root) a server running as another
 * user that cannot map our segment, which only shows on the first get.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { withTestUser } from "../../support/pool_users.ts";
import { bgrx, cLayout, Painter, withXvfb } from "../../support/x11_draw.ts";
import { X11Error, XDisplay } from "../../../ffi/x11/display.ts";
import {
  segmentExists,
  shmAvailable,
  ShmImage,
  XSHM_SEGMENT_INFO,
} from "../../../ffi/x11/shm.ts";
import { isBgrx } from "../../../ffi/x11/image.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

/** The `/proc/sysvipc/shm` line of segment `shmid`, as named fields. */
async function segmentInfo(
  shmid: number,
): Promise<Record<string, string> | undefined> {
  const lines = (await Deno.readTextFile("/proc/sysvipc/shm")).trim().split(
    "\n",
  );
  const names = lines[0].trim().split(/\s+/);
  for (const line of lines.slice(1)) {
    const values = line.trim().split(/\s+/);
    if (Number(values[1]) === shmid) {
      return Object.fromEntries(names.map((n, i) => [n, values[i]]));
    }
  }
  return undefined;
}

Deno.test("XSHM_SEGMENT_INFO matches XShmSegmentInfo on x64", () => {
  const expected = cLayout([
    ["shmseg", 8],
    ["shmid", 4],
    ["shmaddr", 8],
    ["readOnly", 4],
  ]);
  assertEquals({ ...XSHM_SEGMENT_INFO }, expected);
  assertEquals(XSHM_SEGMENT_INFO.size, 32);
});

Deno.test({
  name:
    "a shared image is attached, marked for removal, and gone after destroy",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 160, height: 120 }, async (screen) => {
      const display = XDisplay.open(screen.display);
      try {
        assert(shmAvailable(display));
        const shm = ShmImage.create(display, 160, 120);
        assertEquals(shm.info.width, 160);
        assertEquals(shm.info.height, 120);
        assertEquals(shm.info.bytesPerLine, 640);
        assert(isBgrx(shm.info));
        assertEquals(shm.pixels.length, 640 * 120);
        const info = await segmentInfo(shm.shmid);
        assert(info, "segment not listed");
        assertEquals(Number(info.size), 640 * 120);
        // Attached by this process and by Xvfb.
        assertEquals(Number(info.nattch), 2);
        // IPC_RMID done: SHM_DEST (01000) is set and the key is private.
        assert((parseInt(info.perms, 8) & 0o1000) !== 0, info.perms);
        assertEquals(Number(info.key), 0);
        assert(segmentExists(shm.shmid));
        shm.destroy();
        assert(shm.destroyed);
        shm.destroy();
        assertEquals(await segmentInfo(shm.shmid), undefined);
        assertEquals(segmentExists(shm.shmid), false);
        assertThrows(() => shm.get(display.root), X11Error, /destroyed/);
      } finally {
        display.close();
      }
    }),
});

Deno.test({
  name: "the server writes painted pixels into the segment",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 160, height: 120 }, (screen) => {
      const painter = new Painter(screen.display);
      const display = XDisplay.open(screen.display);
      const shm = ShmImage.create(display, 160, 120);
      try {
        painter.fill({ x: 0, y: 0, width: 160, height: 120 }, 0x102030);
        painter.fill({ x: 100, y: 50, width: 20, height: 10 }, 0xff8000);
        assertEquals(shm.get(display.root), 640);
        const px = (
          x: number,
          y: number,
        ) => [...shm.pixels.subarray(y * 640 + x * 4, y * 640 + x * 4 + 3)];
        assertEquals(px(100, 50), bgrx(0xff8000));
        assertEquals(px(119, 59), bgrx(0xff8000));
        assertEquals(px(120, 59), bgrx(0x102030));
        assertEquals(px(0, 0), bgrx(0x102030));
        // An area lands packed (stride width * 4) at the segment's start.
        const stride = shm.get(display.root, {
          x: 98,
          y: 50,
          width: 4,
          height: 2,
        });
        assertEquals(stride, 16);
        const packed = (
          i: number,
        ) => [...shm.pixels.subarray(i * 4, i * 4 + 3)];
        const row = [0x102030, 0x102030, 0xff8000, 0xff8000].map(bgrx);
        assertEquals([0, 1, 2, 3, 4, 5, 6, 7].map(packed), [...row, ...row]);
        // Outside the screen: BadMatch, reported as undefined.
        assertEquals(
          shm.get(display.root, { x: 150, y: 0, width: 20, height: 2 }),
          undefined,
        );
        assertEquals(shm.get(display.root), 640);
      } finally {
        shm.destroy();
        display.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "a server without MIT-SHM is detected",
  ...XVFB,
  fn: () =>
    withXvfb(
      { width: 64, height: 64, disable: ["MIT-SHM"] },
      (screen) => {
        const display = XDisplay.open(screen.display);
        try {
          assertEquals(shmAvailable(display), false);
        } finally {
          display.close();
        }
      },
    ),
});

Deno.test({
  name: "a server of another user cannot map our segment: the get fails",
  ignore: Deno.uid() !== 0,
  ...XVFB,
  fn: () =>
    withTestUser(
      "shm",
      (user) =>
        withXvfb({ width: 64, height: 64, user }, (screen) => {
          const display = XDisplay.open(screen.display);
          try {
            assert(shmAvailable(display));
            // Our segment is root's, mode 0600: the server's shmat fails, but
            // XShmAttach only queues the request, so that shows on the get.
            const shm = ShmImage.create(display, 64, 64);
            assertEquals(shm.get(display.root), undefined);
            const id = shm.shmid;
            shm.destroy();
            assertEquals(segmentExists(id), false);
          } finally {
            display.close();
          }
        }),
    ),
});
