/**
 * Tests for `mod/devices/linux/x11_capture.ts` on real Xvfb servers, for
 * both pixel paths (MIT-SHM and XGetImage): exact BGRX bytes of a root
 * painted by `xsetroot -solid` and of rectangles drawn by another client,
 * whole-screen and region grabs (the SHM frame a view over one reused
 * buffer); damage (the whole screen first, then the drawn area, then nothing
 * when nothing changed; the whole screen on every poll without DAMAGE);
 * cursor images and cursor change events; CLIPBOARD owner changes from a
 * real `xclip`; the pointer position; the fallbacks (server without MIT-SHM,
 * `noShm`, and as root a server of another user that cannot map our
 * segment); and the errors (a region off the screen, a closed capture, a
 * screen that is not 24-bit, a display that is not there).
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "../../support/assert.ts";
import { runCommand } from "../../support/command.ts";
import { withTestUser } from "../../support/pool_users.ts";
import { waitFor } from "../../support/wait.ts";
import {
  bgrx,
  Painter,
  type TestScreen,
  withXDisplay,
  withXvfb,
} from "../../support/x11_draw.ts";
import { X11Error } from "../../../ffi/x11/display.ts";
import type {
  CapturedFrame,
  Rect,
  ScreenCapture,
} from "../../../mod/devices/capture.ts";
import { openX11Capture } from "../../../mod/devices/linux/x11_capture.ts";
import { resizeScreen } from "../../../mod/devices/linux/x11_resize.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

/** The BGR bytes of pixel (x, y) of a frame. */
function px(frame: CapturedFrame, x: number, y: number): number[] {
  const at = y * frame.stride + x * 4;
  return [...frame.data.subarray(at, at + 3)];
}

/** Whether the union of `rects` covers every pixel of `area`. */
function covers(rects: Rect[], area: Rect): boolean {
  for (let y = area.y; y < area.y + area.height; y++) {
    for (let x = area.x; x < area.x + area.width; x++) {
      if (
        !rects.some((r) =>
          x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
        )
      ) return false;
    }
  }
  return true;
}

/** Runs `fn` with a capture that is closed afterwards. */
async function withCapture(
  options: { display: string; noShm?: boolean },
  fn: (capture: ScreenCapture) => void | Promise<void>,
): Promise<void> {
  const capture = openX11Capture(options);
  try {
    await fn(capture);
  } finally {
    capture.close();
  }
}

/** A capture of `screen` and a painter drawing on it, both closed afterwards. */
async function withPainterCapture(
  screen: TestScreen,
  options: { noShm?: boolean },
  fn: (capture: ScreenCapture, painter: Painter) => void | Promise<void>,
): Promise<void> {
  const painter = new Painter(screen.display);
  try {
    await withCapture(
      { display: screen.display, ...options },
      (capture) => fn(capture, painter),
    );
  } finally {
    painter.close();
  }
}

for (const noShm of [false, true]) {
  const method = noShm ? "getimage" : "shm";

  Deno.test({
    name: `${method}: grab() returns the exact BGRX pixels painted`,
    ...XVFB,
    fn: () =>
      withXvfb({ width: 320, height: 240 }, async (screen) => {
        await withPainterCapture(screen, { noShm }, async (c, painter) => {
          assertEquals(c.method, method);
          assertEquals({ w: c.width, h: c.height }, { w: 320, h: 240 });
          assert(c.damageAvailable);
          const set = await runCommand("xsetroot", {
            args: ["-solid", "#336699"],
            env: screen.env,
          });
          assert(set.ok, set.stderr);
          const whole = c.grab();
          assertEquals(
            { w: whole.width, h: whole.height, s: whole.stride },
            { w: 320, h: 240, s: 1280 },
          );
          assert(whole.data.length >= 1280 * 240);
          for (const [x, y] of [[0, 0], [319, 0], [0, 239], [319, 239]]) {
            assertEquals(px(whole, x, y), [0x99, 0x66, 0x33]);
          }
          painter.fill({ x: 100, y: 50, width: 20, height: 10 }, 0xff8000);
          // The previous frame may be overwritten now: grab again.
          const after = c.grab();
          assertEquals(px(after, 100, 50), bgrx(0xff8000));
          assertEquals(px(after, 119, 59), bgrx(0xff8000));
          assertEquals(px(after, 99, 50), bgrx(0x336699));
          assertEquals(px(after, 120, 59), bgrx(0x336699));
          assertEquals(px(after, 100, 60), bgrx(0x336699));
          // One reused buffer, no new allocation per grab.
          assertEquals(after.data.buffer, whole.data.buffer);

          const region = c.grab({ x: 98, y: 49, width: 4, height: 3 });
          assertEquals(
            { w: region.width, h: region.height, s: region.stride },
            { w: 4, h: 3, s: 16 },
          );
          assertEquals(region.data.length, 48);
          assertEquals(px(region, 0, 0), bgrx(0x336699));
          assertEquals(px(region, 1, 0), bgrx(0x336699));
          assertEquals(px(region, 2, 1), bgrx(0xff8000));
          assertEquals(px(region, 3, 2), bgrx(0xff8000));
          assertEquals(px(region, 1, 1), bgrx(0x336699));
          // And the whole screen again after a region.
          assertEquals(px(c.grab(), 319, 239), bgrx(0x336699));
        });
        // Closed: no shared segment made by this process is left.
        const segments = await Deno.readTextFile("/proc/sysvipc/shm");
        const mine = segments.trim().split("\n").slice(1).filter((line) =>
          Number(line.trim().split(/\s+/)[4]) === Deno.pid
        );
        assertEquals(mine, []);
      }),
  });

  Deno.test({
    name: `${method}: poll() reports drawn damage once, nothing when idle`,
    ...XVFB,
    fn: () =>
      withXvfb({ width: 320, height: 240 }, async (screen) => {
        await withPainterCapture(screen, { noShm }, async (c, painter) => {
          // Everything is new at first.
          assertEquals(c.poll().damage, [
            { x: 0, y: 0, width: 320, height: 240 },
          ]);
          assertEquals(c.poll(), {
            damage: [],
            cursorChanged: false,
            clipboardChanged: false,
            resized: false,
          });
          const area = { x: 30, y: 40, width: 50, height: 20 };
          painter.fill(area, 0x00ff00);
          const damage = await waitFor(() => {
            const rects = c.poll().damage;
            return rects.length ? rects : undefined;
          }, { what: "damage", timeoutMs: 10_000 });
          assert(covers(damage, area), JSON.stringify(damage));
          assert(
            !covers(damage, { x: 0, y: 0, width: 320, height: 240 }),
            "damage should not be the whole screen",
          );
          // A grab is not damage; nothing changed since.
          c.grab();
          painter.display.sync();
          assertEquals(c.poll().damage, []);
          assertEquals(c.poll().damage, []);
        });
      }),
  });
}

Deno.test({
  name: "cursor() is a sane image; a cursor change is reported by poll()",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 200, height: 150 }, async (screen) => {
      await withPainterCapture(screen, {}, async (c, painter) => {
        c.poll();
        const first = c.cursor();
        assert(first, "no cursor");
        assert(first.width > 0 && first.width <= 64);
        assert(first.height > 0 && first.height <= 64);
        assert(first.hotX < first.width && first.hotY < first.height);
        assertEquals(first.rgba.length, first.width * first.height * 4);
        assert(first.rgba.some((v, i) => i % 4 === 3 && v === 255));
        assertEquals(c.poll().cursorChanged, false);

        painter.defineCursor(68);
        const changed = await waitFor(() => c.poll().cursorChanged, {
          what: "cursorChanged",
          timeoutMs: 10_000,
        });
        assert(changed);
        const second = c.cursor();
        assert(second);
        assertNotEquals(second.serial, first.serial);
        assertEquals(c.poll().cursorChanged, false);

        const set = await runCommand("xsetroot", {
          args: ["-cursor_name", "watch"],
          env: screen.env,
        });
        assert(set.ok, set.stderr);
        assert(
          await waitFor(() => c.poll().cursorChanged, {
            what: "cursorChanged after xsetroot",
            timeoutMs: 10_000,
          }),
        );
      });
    }),
});

Deno.test({
  name: "poll() reports CLIPBOARD owner changes from a real xclip",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 64 }, async (screen) => {
      await withCapture({ display: screen.display }, async (c) => {
        c.poll();
        assertEquals(c.poll().clipboardChanged, false);
        // -quiet keeps xclip in the foreground, so its PID is the owner's.
        const xclip = new Deno.Command("xclip", {
          args: ["-quiet", "-selection", "clipboard", "-i"],
          env: screen.env,
          stdin: "piped",
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          const writer = xclip.stdin.getWriter();
          await writer.write(new TextEncoder().encode("hi"));
          await writer.close();
          assert(
            await waitFor(() => c.poll().clipboardChanged, {
              what: "clipboardChanged",
              timeoutMs: 10_000,
            }),
          );
          assertEquals(c.poll().clipboardChanged, false);
        } finally {
          try {
            xclip.kill("SIGTERM");
          } catch {
            // Already gone.
          }
          await xclip.status;
        }
        // The owner went away: that is an owner change too.
        assert(
          await waitFor(() => c.poll().clipboardChanged, {
            what: "clipboardChanged when xclip exits",
            timeoutMs: 10_000,
          }),
        );
      });
    }),
});

Deno.test({
  name: "pointer() follows the pointer",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 300, height: 200 }, async (screen) => {
      await withPainterCapture(screen, {}, (c, painter) => {
        painter.warp(250, 10);
        assertEquals(c.pointer(), { x: 250, y: 10 });
        painter.warp(3, 199);
        assertEquals(c.pointer(), { x: 3, y: 199 });
      });
    }),
});

Deno.test({
  name: "a synthetic ConfigureNotify of the root is not taken for a resize",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 160, height: 120 }, async (screen) => {
      await withPainterCapture(screen, {}, async (c, painter) => {
        c.poll();
        painter.fakeRootConfigure(80, 60);
        // The event arrives; the root's geometry is asked and unchanged.
        await new Promise((r) => setTimeout(r, 50));
        const events = c.poll();
        assertEquals(events.resized, false);
        assertEquals(events.damage, []);
        assertEquals({ w: c.width, h: c.height }, { w: 160, h: 120 });
        assertEquals(c.grab().width, 160);
      });
    }),
});

Deno.test({
  name: "without DAMAGE every poll reports the whole screen",
  ...XVFB,
  fn: () =>
    withXvfb(
      { width: 100, height: 80, disable: ["DAMAGE"] },
      async (screen) => {
        await withCapture({ display: screen.display }, (c) => {
          assertEquals(c.damageAvailable, false);
          const whole = [{ x: 0, y: 0, width: 100, height: 80 }];
          assertEquals(c.poll().damage, whole);
          assertEquals(c.poll().damage, whole);
        });
      },
    ),
});

Deno.test({
  name: "a server without MIT-SHM falls back to XGetImage",
  ...XVFB,
  fn: () =>
    withXvfb(
      { width: 100, height: 80, disable: ["MIT-SHM"] },
      async (screen) => {
        await withPainterCapture(screen, {}, (c, painter) => {
          assertEquals(c.method, "getimage");
          painter.fill({ x: 0, y: 0, width: 100, height: 80 }, 0x123456);
          assertEquals(px(c.grab(), 99, 79), bgrx(0x123456));
        });
      },
    ),
});

Deno.test({
  name: "a server of another user cannot map our segment: XGetImage is used",
  ignore: Deno.uid() !== 0,
  ...XVFB,
  fn: () =>
    withTestUser(
      "cap",
      (user) =>
        withXvfb({ width: 100, height: 80, user }, async (screen) => {
          await withPainterCapture(screen, {}, (c, painter) => {
            assertEquals(c.method, "getimage");
            painter.fill({ x: 10, y: 10, width: 5, height: 5 }, 0xabcdef);
            assertEquals(px(c.grab(), 12, 12), bgrx(0xabcdef));
          });
        }),
    ),
});

Deno.test({
  name: "errors: a region off the screen, a closed capture, a 16-bit screen",
  ...XVFB,
  fn: async () => {
    await withXvfb({ width: 100, height: 80 }, (screen) => {
      const c = openX11Capture({ display: screen.display });
      for (
        const region of [
          { x: 90, y: 0, width: 20, height: 10 },
          { x: -1, y: 0, width: 5, height: 5 },
          { x: 0, y: 0, width: 0, height: 5 },
          { x: 0.5, y: 0, width: 5, height: 5 },
        ]
      ) {
        assertThrows(() => c.grab(region), RangeError);
      }
      // The capture still works after refusing.
      assertEquals(c.grab().width, 100);
      c.close();
      c.close();
      assertThrows(() => c.grab(), X11Error, /closed/);
      assertThrows(() => c.poll(), X11Error, /closed/);
    });
    await withXvfb({ width: 64, height: 64, depth: 16 }, (screen) => {
      assertThrows(
        () => openX11Capture({ display: screen.display }),
        X11Error,
        /unsupported screen format/,
      );
    });
    assertThrows(() => openX11Capture({ display: ":59998" }), X11Error);
  },
});

Deno.test({
  name: "a frame grabbed before a resize stays readable until the next grab",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXDisplay({ width: 640, height: 480 }, async (display, x) => {
      const capture = openX11Capture({ display: x.display });
      const painter = new Painter(x.display);
      try {
        painter.fill({ x: 0, y: 0, width: 640, height: 480 }, 0x336699);
        await waitFor(() => capture.poll().damage.length > 0, {
          what: "the fill",
        });
        const frame = capture.grab();
        assertEquals(
          resizeScreen(display, { width: 320, height: 240 }).applied,
          true,
        );
        await waitFor(() => capture.poll().resized, { what: "the resize" });
        // Still the memory grabbed from, not unmapped (that would crash).
        const last = frame.stride * (frame.height - 1) + 4 * (frame.width - 1);
        assertEquals([frame.data[last], frame.data[last + 2]], [0x99, 0x33]);
        assertEquals(capture.grab().width, 320);
      } finally {
        painter.close();
        capture.close();
      }
    }),
});
