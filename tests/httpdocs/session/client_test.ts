/**
 * Pure parts of the session client (`httpdocs/session/client.js`), run in
 * Deno: upload file names fit the protocol's limit, keep their extension and
 * lose path separators and control characters. (The client's protocol
 * behaviour is tested in Chromium by tests/httpdocs/session_test.ts.)
 *
 * @module
 */
import { fileName } from "../../../httpdocs/session/client.js";
import { MAX_FILE_NAME } from "../../../httpdocs/session/protocol.js";
import { assertEquals } from "../../support/assert.ts";

Deno.test("upload file names fit the protocol", () => {
  assertEquals(fileName("report.pdf"), "report.pdf");
  assertEquals(fileName("a/b\\c\u0001.txt"), "a_b_c_.txt");
  assertEquals(fileName(""), "upload");
  const long = fileName(`${"x".repeat(400)}.tar.gz`);
  assertEquals(long.length, MAX_FILE_NAME);
  assertEquals(long.endsWith(".gz"), true);
  assertEquals(fileName("y".repeat(300)).length, MAX_FILE_NAME);
});
