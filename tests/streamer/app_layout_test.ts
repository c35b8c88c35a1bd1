/**
 * Tests for `mod/streamer/app_layout.ts`: areas packed in rows in the order
 * apps were shown, made smaller alike when the screen cannot hold them,
 * and each window's place (a main window fills its area, a dialog is kept
 * inside it), every decision with its reason.
 *
 * @module
 */
import { layoutAreas, placeWindow } from "../../mod/streamer/app_layout.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

const MAX = { width: 1920, height: 1080 };

Deno.test("areas go side by side, then on the next row", () => {
  const layout = layoutAreas([
    { app: "a", size: { width: 1000, height: 600 } },
    { app: "b", size: { width: 900, height: 400 } },
    { app: "c", size: { width: 800, height: 400 } },
  ], { max: MAX });
  assertEquals(layout.areas.map((a) => a.rect), [
    { x: 0, y: 0, width: 1000, height: 600 },
    { x: 1000, y: 0, width: 900, height: 400 },
    { x: 0, y: 600, width: 800, height: 400 },
  ]);
  assertEquals(layout.screen, { width: 1900, height: 1000 });
  assertMatch(layout.areas[0].reason, /first app at 0,0/);
  assertMatch(layout.areas[2].reason, /next free place at 0,600/);
});

Deno.test("one app gets the screen it asks for", () => {
  const layout = layoutAreas(
    [{ app: "a", size: { width: 1280, height: 720 } }],
    {
      max: MAX,
    },
  );
  assertEquals(layout.screen, { width: 1280, height: 720 });
  assertEquals(layout.areas[0].rect, { x: 0, y: 0, width: 1280, height: 720 });
});

Deno.test("areas that do not fit are made smaller alike, and say so", () => {
  const layout = layoutAreas([
    { app: "a", size: { width: 1200, height: 800 } },
    { app: "b", size: { width: 1200, height: 800 } },
  ], { max: MAX });
  const [a, b] = layout.areas;
  assertEquals(a.rect.width, b.rect.width);
  assertEquals(a.rect.x + a.rect.width, b.rect.x);
  assertEquals(a.rect.width <= 960, true);
  // The same factor both ways (whole pixels).
  assertEquals(Math.round(a.rect.width / a.rect.height * 10), 15);
  assertMatch(
    b.reason,
    /not the 1200x800 asked: the 1920x1080 screen holds no more/,
  );
  // Nothing overlaps, and the screen holds it all.
  assertEquals(layout.screen.width <= MAX.width, true);
});

Deno.test("an area larger than the screen is the screen", () => {
  const layout = layoutAreas([{
    app: "a",
    size: { width: 4000, height: 3000 },
  }], {
    max: MAX,
  });
  // Scaled alike until it fits: never wider or taller than the screen.
  const [a] = layout.areas;
  assertEquals(a.rect.width <= MAX.width && a.rect.height <= MAX.height, true);
});

Deno.test("too many areas even when smallest share the top left", () => {
  const requests = Array.from({ length: 40 }, (_, i) => ({
    app: `app${i}`,
    size: { width: 1920, height: 1080 },
  }));
  const layout = layoutAreas(requests, { max: MAX });
  const shared = layout.areas.filter((a) =>
    /shares the top left/.test(a.reason)
  );
  assertEquals(shared.length > 0, true);
  for (const area of shared) assertEquals([area.rect.x, area.rect.y], [0, 0]);
});

Deno.test("a main window fills its area; a dialog stays inside it", () => {
  const area = { x: 800, y: 0, width: 640, height: 480 };
  assertEquals(placeWindow({ role: "main", rect: area }, area).action, "keep");
  const main = placeWindow({
    role: "main",
    rect: { x: 0, y: 0, width: 484, height: 316 },
  }, area);
  assertEquals(main.action === "move" && main.to, { x: 800, y: 0 });
  assertEquals(main.action === "move" && main.maximize, true);
  assertMatch(main.reason, /not filling its area 640x480\+800\+0/);

  const inside = { x: 900, y: 100, width: 300, height: 200 };
  assertEquals(
    placeWindow({ role: "dialog", rect: inside }, area).action,
    "keep",
  );
  const outside = placeWindow({
    role: "dialog",
    rect: { x: 10, y: 10, width: 300, height: 200 },
  }, area);
  assertEquals(outside.action === "move" && outside.to, { x: 970, y: 140 });
  assertEquals(outside.action === "move" && outside.maximize, false);
  // A dialog larger than its area, already at its top left, stays.
  assertEquals(
    placeWindow({
      role: "dialog",
      rect: { x: 800, y: 0, width: 700, height: 500 },
    }, area).action,
    "keep",
  );
});
