/**
 * Tests for `mod/platform/windows/environment.ts`: webstream's variables
 * replace the user's case-insensitively, and the block is sorted as
 * Windows wants it.
 *
 * @module
 */
import {
  entryName,
  localComputerName,
  mergeEnvironment,
} from "../../../mod/platform/windows/environment.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

Deno.test("entryName: drive-folder entries keep their leading =", () => {
  assertEquals(entryName("Path=C:\\Windows"), "Path");
  assertEquals(entryName("=C:=C:\\Users\\webs01"), "=C:");
  assertEquals(entryName("A=b=c"), "A");
});

Deno.test("mergeEnvironment: replaces in any case, sorts case-insensitively", () => {
  assertEquals(
    mergeEnvironment(
      ["USERNAME=webs01", "windir=C:\\Windows", "Path=C:\\Windows", "=C:=C:\\"],
      { PATH: "C:\\webstream", WEBSTREAM_LICENCE_PROOF: "abc", apple: "1" },
    ),
    [
      "=C:=C:\\",
      "apple=1",
      "PATH=C:\\webstream",
      "USERNAME=webs01",
      "WEBSTREAM_LICENCE_PROOF=abc",
      "windir=C:\\Windows",
    ],
  );
});

Deno.test("mergeEnvironment: refuses names and values a block cannot hold", () => {
  assertThrows(
    () => mergeEnvironment([], { "A=B": "x" }),
    Error,
    /invalid environment variable name/,
  );
  assertThrows(() => mergeEnvironment([], { "": "x" }), Error, /invalid/);
  assertThrows(
    () => mergeEnvironment([], { A: "x\0y" }),
    Error,
    /A contains a NUL/,
  );
});

Deno.test("localComputerName: COMPUTERNAME, else the host name's first label", () => {
  const saved = Deno.env.get("COMPUTERNAME");
  try {
    Deno.env.set("COMPUTERNAME", "WSHOST");
    assertEquals(localComputerName(), "WSHOST");
    Deno.env.delete("COMPUTERNAME");
    assertEquals(localComputerName(), Deno.hostname().split(".")[0]);
  } finally {
    if (saved === undefined) Deno.env.delete("COMPUTERNAME");
    else Deno.env.set("COMPUTERNAME", saved);
  }
});
