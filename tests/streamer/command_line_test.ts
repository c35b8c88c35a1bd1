/** Splitting `commandLineParams` into argv without a shell. */
import {
  CommandLineError,
  programName,
  splitCommandLine,
} from "../../mod/streamer/command_line.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";

Deno.test("words, quotes and escapes split like a POSIX shell's", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["   ", []],
    ["xterm", ["xterm"]],
    ["  xterm   -e  top ", ["xterm", "-e", "top"]],
    [`sh -c 'echo "hi" > $HOME/x'`, ["sh", "-c", `echo "hi" > $HOME/x`]],
    [`a "b c" d`, ["a", "b c", "d"]],
    [`"say \\"hi\\"" 'it''s'`, [`say "hi"`, "its"]],
    [`a\\ b c`, ["a b", "c"]],
    [`"" ''`, ["", ""]],
    [`pre"mid"post`, ["premidpost"]],
    [`"C:\\\\Program Files\\\\app.exe"`, [`C:\\Program Files\\app.exe`]],
    ["tab\tseparated\nnewline", ["tab", "separated", "newline"]],
  ];
  for (const [line, argv] of cases) {
    assertEquals(splitCommandLine(line), argv, line);
  }
});

Deno.test("shell syntax stays literal: nothing is expanded or run", () => {
  assertEquals(splitCommandLine("echo $HOME; rm -rf / | cat > x &"), [
    "echo",
    "$HOME;",
    "rm",
    "-rf",
    "/",
    "|",
    "cat",
    ">",
    "x",
    "&",
  ]);
});

Deno.test("unterminated quotes and trailing backslashes are errors", () => {
  assertThrows(
    () => splitCommandLine(`a 'b`),
    CommandLineError,
    /unterminated ' quote/,
  );
  assertThrows(
    () => splitCommandLine(`a "b`),
    CommandLineError,
    /unterminated " quote/,
  );
  assertThrows(
    () => splitCommandLine(`a \\`),
    CommandLineError,
    /trailing backslash/,
  );
});

Deno.test("a command line's program name is its first word's last part", () => {
  assertEquals(programName("/usr/bin/xterm -T 'My term'"), "xterm");
  assertEquals(programName("'/opt/My App/run' --x"), "run");
  assertEquals(programName("gedit"), "gedit");
  assertEquals(programName("   "), undefined);
  assertEquals(programName("sh -c 'unterminated"), undefined);
});
