/**
 * Tests for `httpdocs/session/keys.js`: the KEY messages
 * that type composed text, and which key events belong to a composition.
 * The DOM parts (the keyboard target, composition events, dead keys) are
 * tested in real Chromium by `tests/httpdocs/session_test.ts`.
 *
 * @module
 */
import { composes, textKeys } from "../../../httpdocs/session/keys.js";
import { assertEquals } from "../../support/assert.ts";

Deno.test("textKeys: a press and a release per code point, no code", () => {
  assertEquals(textKeys("aé"), [
    { type: "key", down: true, code: "", key: "a" },
    { type: "key", down: false, code: "", key: "a" },
    { type: "key", down: true, code: "", key: "é" },
    { type: "key", down: false, code: "", key: "é" },
  ]);
  // An astral character is one key, not two halves of a surrogate pair.
  assertEquals(textKeys("😀").map((m) => m.type === "key" && m.key), [
    "😀",
    "😀",
  ]);
});

Deno.test("textKeys: line breaks are Enter, tabs Tab, controls dropped", () => {
  const keys = (text: string) =>
    textKeys(text).filter((m) => m.type === "key" && m.down).map((m) =>
      m.type === "key" && m.key
    );
  assertEquals(keys("a\r\nb\nc\rd"), [
    "a",
    "Enter",
    "b",
    "Enter",
    "c",
    "Enter",
    "d",
  ]);
  assertEquals(keys("\tx"), ["Tab", "x"]);
  assertEquals(keys("\u0000\u0007\u001b\u007f\u009fz"), ["z"]);
  assertEquals(textKeys(""), []);
});

Deno.test("composes: IME and dead-key events are not sent", () => {
  const event = (key: string, isComposing = false, keyCode = 0) => ({
    key,
    isComposing,
    keyCode,
  });
  assertEquals(composes(event("a")), false);
  assertEquals(composes(event("AltGraph")), false);
  assertEquals(composes(event("@")), false);
  assertEquals(composes(event("a", true)), true);
  assertEquals(composes(event("a", false, 229)), true);
  assertEquals(composes(event("Process")), true);
  assertEquals(composes(event("Dead")), true);
});
