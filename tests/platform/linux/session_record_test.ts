/**
 * The Linux platform's session record: what a later run needs to adopt a
 * session validates, and anything else (a wrong type, a relative path, a
 * PID of the kernel's, an unknown field) is refused naming the field.
 */
import {
  parseSessionRecord,
  type SessionRecord,
} from "../../../mod/platform/linux/session_record.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";

const RECORD: SessionRecord = {
  version: 1,
  display: ":7",
  sessionDir: "/var/lib/webstream/sessions/webs01",
  authFile: "/var/lib/webstream/sessions/webs01/Xauthority",
  home: "/home/webs01",
  uid: 1001,
  gid: 1001,
  xvfb: { pid: 4242, start: 123456 },
  audio: { pid: 4243, start: 123460, server: "unix:/run/pulse/native" },
  streamer: { pid: 4244, start: 123470 },
};

Deno.test("a record as the platform writes it is read back", () => {
  assertEquals(parseSessionRecord(RECORD), { ok: true, record: RECORD });
  const silent = { ...RECORD, audio: null };
  assertEquals(parseSessionRecord(silent), { ok: true, record: silent });
  // Through JSON, as it is stored.
  assertEquals(
    parseSessionRecord(JSON.parse(JSON.stringify(RECORD))),
    { ok: true, record: RECORD },
  );
});

Deno.test("a record that does not fit is refused, naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [null, /expected object/],
    [{ ...RECORD, version: 2 }, /version/],
    [{ ...RECORD, display: "7" }, /display: expected an X display/],
    [{ ...RECORD, sessionDir: "relative/dir" }, /sessionDir/],
    [{ ...RECORD, xvfb: { pid: 1, start: 5 } }, /xvfb\.pid/],
    [{ ...RECORD, streamer: { pid: 4244 } }, /streamer\.start/],
    [{ ...RECORD, audio: { pid: 9, start: 1, server: "tcp:x" } }, /audio/],
    [{ ...RECORD, uid: -1 }, /uid/],
    [{ ...RECORD, extra: 1 }, /unknown property "extra"/],
  ];
  for (const [value, problem] of cases) {
    const parsed = parseSessionRecord(value);
    assert(!parsed.ok, JSON.stringify(value));
    assertMatch(parsed.error, problem);
  }
});
