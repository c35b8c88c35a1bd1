/**
 * `VIEWER_SETTINGS` JSON: a valid policy and size parse; invalid JSON or an
 * invalid field is refused with what was wrong; clipboard directions follow
 * the policy.
 *
 * @module
 */
import {
  clipboardDirections,
  parseViewerSettings,
  RESTRICTIVE,
} from "../../mod/streamer/viewer_settings.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const POLICY = {
  clipboard: "both",
  fileUpload: true,
  fileDownload: false,
  printing: false,
  shadowing: false,
  audio: true,
  videoMaxKbps: 4000,
  downloadMaxBytes: 2 ** 30,
  maxPixelRatio: 2,
} as const;

Deno.test("valid settings parse", () => {
  const parsed = parseViewerSettings(
    JSON.stringify({ policy: POLICY, width: 1280, height: 720 }),
  );
  assert(parsed.ok);
  assertEquals(parsed.value, { policy: POLICY, width: 1280, height: 720 });
  const noSize = parseViewerSettings(JSON.stringify({ policy: POLICY }));
  assert(noSize.ok);
  assertEquals(noSize.value.width, undefined);
  // A host from before sound sends no audio field: no sound.
  const { audio: _, ...older } = POLICY;
  const old = parseViewerSettings(JSON.stringify({ policy: older }));
  assert(old.ok);
  assertEquals(old.value.policy.audio, false);
  // A host from before downloads sends no cap: the 1 GiB default.
  const { downloadMaxBytes: __, ...noCap } = POLICY;
  const uncapped = parseViewerSettings(JSON.stringify({ policy: noCap }));
  assert(uncapped.ok);
  assertEquals(uncapped.value.policy.downloadMaxBytes, 2 ** 30);
  const negative = parseViewerSettings(
    JSON.stringify({ policy: { ...POLICY, downloadMaxBytes: -1 } }),
  );
  assert(!negative.ok);
  assertMatch(negative.error, /policy\.downloadMaxBytes/);
});

Deno.test("the pixel ratio cap: the contract's field, unknown fields dropped", () => {
  const { maxPixelRatio: _, ...older } = POLICY;
  const old = parseViewerSettings(JSON.stringify({ policy: older }));
  assert(old.ok);
  assertEquals(old.value.policy.maxPixelRatio, 2);
  const capped = parseViewerSettings(
    JSON.stringify({ policy: { ...POLICY, maxPixelRatio: 1.5 } }),
  );
  assert(capped.ok);
  assertEquals(capped.value.policy.maxPixelRatio, 1.5);
  const bad = parseViewerSettings(
    JSON.stringify({ policy: { ...POLICY, maxPixelRatio: 0 } }),
  );
  assert(!bad.ok);
  assertMatch(bad.error, /^policy\.maxPixelRatio:/);
  // A newer host's field this streamer does not know is not a reason to
  // fall back to nothing.
  const newer = parseViewerSettings(
    JSON.stringify({ policy: { ...POLICY, hologram: true } }),
  );
  assert(newer.ok);
  assertEquals(newer.value.policy, POLICY);
  assertEquals(RESTRICTIVE.policy.maxPixelRatio, 1);
});

Deno.test("invalid settings name what was wrong", () => {
  const notJson = parseViewerSettings("{");
  assert(!notJson.ok);
  assertMatch(notJson.error, /not JSON/);
  const bad = parseViewerSettings(
    JSON.stringify({ policy: { ...POLICY, clipboard: "sideways" }, width: 0 }),
  );
  assert(!bad.ok);
  assertMatch(bad.error, /policy\.clipboard/);
  assertMatch(bad.error, /width/);
});

Deno.test("clipboard directions follow the policy; the fallback allows nothing", () => {
  assertEquals(clipboardDirections({ ...POLICY, clipboard: "both" }), {
    toSession: true,
    fromSession: true,
  });
  assertEquals(clipboardDirections({ ...POLICY, clipboard: "to-session" }), {
    toSession: true,
    fromSession: false,
  });
  assertEquals(clipboardDirections({ ...POLICY, clipboard: "from-session" }), {
    toSession: false,
    fromSession: true,
  });
  assertEquals(clipboardDirections(RESTRICTIVE.policy), {
    toSession: false,
    fromSession: false,
  });
  assertEquals(RESTRICTIVE.policy.fileUpload, false);
  assertEquals(RESTRICTIVE.policy.fileDownload, false);
  assertEquals(RESTRICTIVE.policy.printing, false);
  assertEquals(RESTRICTIVE.policy.downloadMaxBytes, 0);
});

Deno.test("the app a viewer's tab shows is kept; an empty one is refused", () => {
  const app = parseViewerSettings(
    JSON.stringify({ policy: POLICY, app: "xterm -fa Mono" }),
  );
  assert(app.ok);
  assertEquals(app.value.app, "xterm -fa Mono");
  const empty = parseViewerSettings(
    JSON.stringify({ policy: POLICY, app: "" }),
  );
  assert(!empty.ok);
  assertMatch(empty.error, /^app:/);
});

Deno.test("the app's name comes with it; an empty one is refused", () => {
  const named = parseViewerSettings(
    JSON.stringify({ policy: POLICY, app: "gedit", appName: "Text Editor" }),
  );
  assert(named.ok);
  assertEquals(named.value.appName, "Text Editor");
  const empty = parseViewerSettings(
    JSON.stringify({ policy: POLICY, app: "gedit", appName: "" }),
  );
  assert(!empty.ok);
  assertMatch(empty.error, /^appName:/);
});
