/**
 * Tests for the service command line: arguments quoted (by advapi32's
 * `quoteArgument`) by the rules `CommandLineToArgvW` parses with (checked by parsing them back with an
 * independent implementation of those rules), the executable always quoted,
 * and role arguments that `parseCli` reads back as the same role.
 *
 * @module
 */
import { parseCli, type ServiceRoleCommand } from "../../mod/cli/mod.ts";
import {
  buildCommandLine,
  quoteExecutable,
  roleArguments,
} from "../../mod/service/command_line.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";
import { windowsArgv } from "../support/windows/windows_argv.ts";

/** `args` as quoted after the executable on the service's command line. */
function quoted(...args: string[]): string {
  return buildCommandLine("C:\\w.exe", args).slice('"C:\\w.exe" '.length);
}

Deno.test("plain arguments stay bare, commas included", () => {
  assertEquals(quoted("-backend"), "-backend");
  assertEquals(quoted("gpu,autocad"), "gpu,autocad");
  assertEquals(quoted("C:\\ProgramData\\w.yaml"), "C:\\ProgramData\\w.yaml");
});

Deno.test("spaces, quotes, trailing backslashes and the empty string are quoted", () => {
  assertEquals(quoted(""), '""');
  assertEquals(
    quoted("C:\\Program Files\\webstream\\w.yaml"),
    '"C:\\Program Files\\webstream\\w.yaml"',
  );
  // A trailing backslash would escape the closing quote: doubled.
  assertEquals(quoted("C:\\My Dir\\"), '"C:\\My Dir\\\\"');
  assertEquals(quoted('say "hi"'), '"say \\"hi\\""');
  assertEquals(quoted('a\\"b'), '"a\\\\\\"b"');
  assertEquals(quoted("tab\there"), '"tab\there"');
});

Deno.test("arguments round-trip through the Windows parsing rules", () => {
  const nasty = [
    "",
    "plain",
    "with space",
    "C:\\Program Files\\",
    "\\\\server\\share\\x y",
    'q"uote',
    '"',
    '\\"',
    '\\\\"',
    "ends\\\\",
    "tab\tand space ",
    "ünïcødé 日本",
    "a,b,c",
  ];
  const line = buildCommandLine("C:\\w.exe", nasty);
  assertEquals(windowsArgv(line), ["C:\\w.exe", ...nasty]);
});

Deno.test("an argument with NUL is refused", () => {
  assertThrows(() => quoted("a\0b"), TypeError, /NUL/);
});

Deno.test("the executable is always quoted and cannot hold a quote", () => {
  assertEquals(quoteExecutable("C:\\w.exe"), '"C:\\w.exe"');
  assertEquals(
    quoteExecutable("C:\\Program Files\\webstream\\webstream.exe"),
    '"C:\\Program Files\\webstream\\webstream.exe"',
  );
  assertThrows(() => quoteExecutable(""), TypeError, /executable path/);
  assertThrows(() => quoteExecutable('C:\\a"b.exe'), TypeError, /a\\"b/);
});

Deno.test("roleArguments read back as the same role", () => {
  const cases: ServiceRoleCommand[] = [
    { kind: "backend", config: undefined, tags: [] },
    {
      kind: "backend",
      config: "C:\\Program Files\\w.yaml",
      tags: ["gpu", "autocad"],
    },
    { kind: "sm", config: "D:\\w.yaml" },
    { kind: "gateway", config: undefined },
  ];
  for (const role of cases) {
    const argv = windowsArgv(
      buildCommandLine("C:\\w.exe", ["run-service", ...roleArguments(role)]),
    );
    assertEquals(parseCli(argv.slice(1)), { kind: "run-service", role });
  }
  assertEquals(
    roleArguments({ kind: "backend", tags: ["gpu"], config: "a.yaml" }, {
      config: "C:\\abs\\a.yaml",
    }),
    ["-backend", "-tags", "gpu", "-config", "C:\\abs\\a.yaml"],
  );
});
