/**
 * Tests for `mod/contract/streamer_reports.ts`: a check-in, a metrics report
 * and an activity event as streamers send them; a proof that is not 64 hex
 * digits and an unknown event are refused by name.
 */
import {
  activitySchema,
  checkinSchema,
  metricsReportSchema,
} from "../../mod/contract/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";

const CLAIM = {
  sessionUuid: "6f1c2b9e-8d3a-4f5b-9c7e-1a2b3c4d5e6f",
  serverUrl: "http://10.0.0.5:9005",
  proof: "a".repeat(64),
};

Deno.test("streamer reports as streamers send them", () => {
  assert(checkinSchema.safeParse(CLAIM).success);
  assert(
    metricsReportSchema.safeParse({ ...CLAIM, fps: 30, bytes: 1000 }).success,
  );
  assert(
    activitySchema.safeParse({ ...CLAIM, event: "app_launch", detail: "x" })
      .success,
  );
});

Deno.test("a bad proof or an unknown event is refused by name", () => {
  const bad = checkinSchema.safeParse({ ...CLAIM, proof: "A".repeat(64) });
  assert(!bad.success);
  assertEquals(bad.error.issues.map((i) => i.path[0]), ["proof"]);
  const event = activitySchema.safeParse({ ...CLAIM, event: "reboot" });
  assert(!event.success);
  assertEquals(event.error.issues.map((i) => i.path[0]), ["event"]);
});
