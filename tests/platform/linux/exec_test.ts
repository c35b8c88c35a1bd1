/**
 * Tests for `mod/platform/linux/exec.ts`: a real child's standard output is
 * returned, standard input and environment reach it, a failure becomes a
 * {@linkcode CommandError} with the exit code and the child's error output,
 * and `okCodes` turns chosen exit codes into successes.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../support/assert.ts";
import { CommandError, run } from "../../../mod/platform/linux/exec.ts";

Deno.test("run: returns the command's standard output", async () => {
  assertEquals(await run("echo", ["hello", "world"]), "hello world\n");
});

Deno.test("run: delivers stdin to the command", async () => {
  const text = "line one\nline: two\n";
  assertEquals(await run("cat", [], { stdin: text }), text);
});

Deno.test("run: without stdin the command reads end of input", async () => {
  // stdin is /dev/null, so `wc -c` counts nothing instead of hanging.
  assertEquals((await run("wc", ["-c"])).trim(), "0");
});

Deno.test("run: passes extra environment variables", async () => {
  const out = await run("sh", ["-c", 'printf %s "$WEBSTREAM_EXEC_TEST"'], {
    env: { WEBSTREAM_EXEC_TEST: "value with spaces" },
  });
  assertEquals(out, "value with spaces");
});

Deno.test("run: a failure carries the exit code and stderr", async () => {
  const error = await assertRejects(
    () => run("sh", ["-c", "echo out; echo 'it broke' >&2; exit 3"]),
    CommandError,
  );
  const failure = error as CommandError;
  assertEquals(failure.code, 3);
  assertEquals(failure.name, "CommandError");
  assertMatch(failure.message, /^sh failed \(exit 3\): it broke$/);
});

Deno.test("run: a silent failure says there was no output", async () => {
  const error = await assertRejects(() => run("false", []), CommandError);
  assertEquals((error as CommandError).code, 1);
  assertMatch(error.message, /no output/);
});

Deno.test("run: okCodes accepts listed exit codes only", async () => {
  const out = await run("sh", ["-c", "echo partial; exit 2"], {
    okCodes: [0, 2],
  });
  assertEquals(out, "partial\n");
  // With okCodes given, 0 is not implicitly accepted.
  const error = await assertRejects(
    () => run("true", [], { okCodes: [2] }),
    CommandError,
  );
  assertEquals((error as CommandError).code, 0);
  const other = await assertRejects(
    () => run("sh", ["-c", "exit 4"], { okCodes: [0, 2] }),
    CommandError,
  );
  assertEquals((other as CommandError).code, 4);
});

Deno.test("run: a missing executable rejects", async () => {
  const error = await assertRejects(() =>
    run("webstream-no-such-command-xyz", [])
  );
  assert(error instanceof Deno.errors.NotFound, String(error));
});
