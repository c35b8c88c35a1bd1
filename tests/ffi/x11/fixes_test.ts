/**
 * Tests for `ffi/x11/fixes.ts`: the `XRectangle`, `XFixesCursorImage` and
 * XFixes notify event offsets against the documented x64 layouts;
 * un-premultiplying 64-bit ARGB cursor pixels; decoding rectangles; and on a
 * real Xvfb: the cursor image (size, hotspot, position, opaque pixels), a
 * cursor notify event when another client changes the root cursor (with a
 * new serial and image; and from `xsetroot`), a selection notify event when another client takes the
 * CLIPBOARD, and an empty server-side region.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../../support/assert.ts";
import { runCommand } from "../../support/command.ts";
import { cLayout, Painter, withXvfb } from "../../support/x11_draw.ts";
import { XDisplay, XEVENT_SIZE, xlib } from "../../../ffi/x11/display.ts";
import {
  createRegion,
  decodeRectangles,
  destroyRegion,
  fetchRegion,
  fixesEventBase,
  readCursorImage,
  selectCursorInput,
  selectSelectionInput,
  unpremultiplyArgb64,
  XFIXES_CURSOR_IMAGE,
  XFIXES_CURSOR_NOTIFY,
  XFIXES_EVENT,
  XFIXES_SELECTION_NOTIFY,
  XRECTANGLE,
} from "../../../ffi/x11/fixes.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

/** The events queued on `display` now, as DataViews. */
function drain(display: XDisplay): DataView[] {
  const out: DataView[] = [];
  display.sync();
  while (xlib().XPending(display.pointer) > 0) {
    const event = new Uint8Array(new ArrayBuffer(XEVENT_SIZE));
    xlib().XNextEvent(display.pointer, event);
    out.push(new DataView(event.buffer));
  }
  return out;
}

Deno.test("XRECTANGLE and XFIXES_CURSOR_IMAGE match the x64 layouts", () => {
  assertEquals(
    { ...XRECTANGLE },
    cLayout([["x", 2], ["y", 2], ["width", 2], ["height", 2]]),
  );
  assertEquals(
    { ...XFIXES_CURSOR_IMAGE },
    cLayout([
      ["x", 2],
      ["y", 2],
      ["width", 2],
      ["height", 2],
      ["xhot", 2],
      ["yhot", 2],
      ["cursorSerial", 8],
      ["pixels", 8],
      ["atom", 8],
      ["name", 8],
    ]),
  );
});

Deno.test("XFixes notify event offsets match the x64 layouts", () => {
  const head: [string, number][] = [
    ["type", 4],
    ["serial", 8],
    ["sendEvent", 4],
    ["display", 8],
    ["window", 8],
    ["subtype", 4],
  ];
  const cursor = cLayout([
    ...head,
    ["cursorSerial", 8],
    ["timestamp", 8],
    ["cursorName", 8],
  ]);
  const { serial: _s, sendEvent: _e, display: _d, size, ...cursorFields } =
    cursor;
  assertEquals({ ...XFIXES_CURSOR_NOTIFY }, cursorFields);
  assert(size <= XEVENT_SIZE);
  const selection = cLayout([
    ...head,
    ["owner", 8],
    ["selection", 8],
    ["timestamp", 8],
    ["selectionTimestamp", 8],
  ]);
  const {
    serial: _s2,
    sendEvent: _e2,
    display: _d2,
    size: size2,
    ...selectionFields
  } = selection;
  assertEquals({ ...XFIXES_SELECTION_NOTIFY }, selectionFields);
  assert(size2 <= XEVENT_SIZE);
});

Deno.test("unpremultiplyArgb64 turns premultiplied ARGB longs into RGBA", () => {
  const longs = new Uint8Array(4 * 8);
  const view = new DataView(longs.buffer);
  view.setUint32(0, 0xff102030, true); // opaque: unchanged
  view.setUint32(8, 0x80402010, true); // half alpha: doubled back
  view.setUint32(16, 0x00000000, true); // transparent
  view.setUint32(24, 0x40ffffff, true); // over-bright: clamped
  view.setUint32(28, 0xdeadbeef, true); // the high half is ignored
  assertEquals([...unpremultiplyArgb64(longs, 4)], [
    0x10,
    0x20,
    0x30,
    0xff,
    0x80,
    0x40,
    0x20,
    0x80,
    0,
    0,
    0,
    0,
    0xff,
    0xff,
    0xff,
    0x40,
  ]);
});

Deno.test("decodeRectangles reads packed XRectangles", () => {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt16(0, -5, true);
  view.setInt16(2, 6, true);
  view.setUint16(4, 65535, true);
  view.setUint16(6, 8, true);
  view.setInt16(8, 100, true);
  view.setUint16(12, 1, true);
  view.setUint16(14, 2, true);
  assertEquals(decodeRectangles(bytes, 2), [
    { x: -5, y: 6, width: 65535, height: 8 },
    { x: 100, y: 0, width: 1, height: 2 },
  ]);
});

Deno.test({
  name: "the cursor image, and a notify event when the root cursor changes",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 200, height: 150 }, async (screen) => {
      const painter = new Painter(screen.display);
      const display = XDisplay.open(screen.display);
      try {
        const base = fixesEventBase(display);
        assert(base !== undefined, "XFIXES missing on Xvfb");
        painter.warp(50, 40);
        const before = readCursorImage(display);
        assert(before);
        assert(before.width > 0 && before.width <= 64, `${before.width}`);
        assert(before.height > 0 && before.height <= 64, `${before.height}`);
        assert(before.hotX < before.width && before.hotY < before.height);
        assertEquals({ x: before.x, y: before.y }, { x: 50, y: 40 });
        assertEquals(before.rgba.length, before.width * before.height * 4);
        const alphas = new Set(before.rgba.filter((_, i) => i % 4 === 3));
        assert(alphas.has(255), "no opaque pixel");
        assert(alphas.has(0), "no transparent pixel");

        selectCursorInput(display, display.root);
        assertEquals(drain(display).length, 0);
        // left_ptr: not animated (an animated themed cursor reads as 1×1).
        painter.defineCursor(68);
        const events = drain(display);
        assertEquals(events.length, 1);
        const event = events[0];
        assertEquals(
          event.getInt32(XFIXES_CURSOR_NOTIFY.type, true),
          base + XFIXES_EVENT.cursorNotify,
        );
        assertEquals(
          event.getBigUint64(XFIXES_CURSOR_NOTIFY.window, true),
          display.root,
        );
        const after = readCursorImage(display);
        assert(after);
        assertEquals(
          Number(event.getBigUint64(XFIXES_CURSOR_NOTIFY.cursorSerial, true)),
          after.serial,
        );
        assertNotEquals(after.serial, before.serial);
        assertNotEquals(after.rgba, before.rgba);

        // Another client (that then exits) changing the cursor notifies too.
        const set = await runCommand("xsetroot", {
          args: ["-cursor_name", "left_ptr"],
          env: screen.env,
        });
        assert(set.ok, set.stderr);
        const more = drain(display);
        assert(more.length >= 1, "no cursor notify after xsetroot");
        assertEquals(
          more[0].getInt32(XFIXES_CURSOR_NOTIFY.type, true),
          base + XFIXES_EVENT.cursorNotify,
        );
      } finally {
        display.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "a selection notify event when another client takes the CLIPBOARD",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 64 }, (screen) => {
      const display = XDisplay.open(screen.display);
      const painter = new Painter(screen.display);
      try {
        const base = fixesEventBase(display)!;
        const clipboard = display.atom("CLIPBOARD");
        selectSelectionInput(display, display.root, clipboard);
        // PRIMARY is not watched.
        painter.ownSelection("PRIMARY");
        assertEquals(drain(display).length, 0);
        painter.ownSelection("CLIPBOARD");
        const events = drain(display);
        assertEquals(events.length, 1);
        const event = events[0];
        assertEquals(
          event.getInt32(XFIXES_SELECTION_NOTIFY.type, true),
          base + XFIXES_EVENT.selectionNotify,
        );
        assertEquals(
          event.getBigUint64(XFIXES_SELECTION_NOTIFY.selection, true),
          clipboard,
        );
        assertNotEquals(
          event.getBigUint64(XFIXES_SELECTION_NOTIFY.owner, true),
          0n,
        );
        // The owner's client going away is an owner change too.
        painter.close();
        const gone = drain(display);
        assertEquals(gone.length, 1);
        assertEquals(
          gone[0].getBigUint64(XFIXES_SELECTION_NOTIFY.selection, true),
          clipboard,
        );
      } finally {
        display.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "a new region is empty",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 64 }, (screen) => {
      const display = XDisplay.open(screen.display);
      try {
        const region = createRegion(display);
        assertNotEquals(region, 0n);
        assertEquals(fetchRegion(display, region), []);
        destroyRegion(display, region);
        display.sync();
      } finally {
        display.close();
      }
    }),
});
