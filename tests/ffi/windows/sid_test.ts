/**
 * Tests for `ffi/windows/sid.ts`: binary SIDs to and from their string
 * form (the Remote Desktop Users SID byte by byte), validity checks, and
 * clear errors for malformed input.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import {
  checkSid,
  isValidSid,
  sidFromString,
  sidToString,
} from "../../../ffi/windows/sid.ts";

const REMOTE_DESKTOP_USERS_SID = "S-1-5-32-555";

Deno.test("SIDs convert between string and binary forms", () => {
  const rdu = sidFromString(REMOTE_DESKTOP_USERS_SID);
  assertEquals(
    [...rdu],
    [1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x2b, 2, 0, 0],
  );
  assertEquals(sidToString(rdu), "S-1-5-32-555");
  const user = "S-1-5-21-1111111111-2222222222-3333333333-1001";
  assertEquals(sidToString(sidFromString(user)), user);
  assertEquals(sidToString(sidFromString("S-1-0")), "S-1-0");
  assert(isValidSid(rdu));
  assert(!isValidSid(rdu.subarray(0, 12)));
  assert(!isValidSid(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 5])));
  assertThrows(() => sidFromString("S-2-5"), TypeError, /invalid SID string/);
  assertThrows(() => sidFromString("S-1-5-x"), TypeError, /invalid SID/);
  assertThrows(
    () => sidFromString("S-1-5-4294967296"),
    TypeError,
    /too large/,
  );
  assertThrows(() => sidToString(new Uint8Array(3)), TypeError, /not a valid/);
});

Deno.test("checkSid names what is wrong", () => {
  checkSid(sidFromString("S-1-5-18"));
  assertThrows(
    () => checkSid(new Uint8Array([1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0])),
    TypeError,
    /not a binary SID \(12 bytes, revision 1, 2 sub-authorities\)/,
  );
});
