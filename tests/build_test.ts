/**
 * The build script: targets, the exact `deno compile` invocation, where the
 * runtime base comes from, and the message when it cannot be had. The compile
 * itself needs Deno's runtime base, which these machines cannot download;
 * the failure path runs for real with a missing DENORT_BIN.
 */
import {
  compileArgs,
  compileEnv,
  explainFailure,
  parseTargets,
  TARGETS,
} from "../build.ts";
import { assertEquals, assertMatch, assertThrows } from "./support/assert.ts";
import { runCommand } from "./support/command.ts";

Deno.test("targets: all by default, or one by name", () => {
  assertEquals(parseTargets([]), [TARGETS.linux, TARGETS.windows]);
  assertEquals(parseTargets(["windows"]), [TARGETS.windows]);
  assertThrows(() => parseTargets(["macos"]), Error, /unknown target "macos"/);
  assertThrows(
    () => parseTargets(["linux", "x"]),
    Error,
    /unexpected argument/,
  );
});

Deno.test("deno compile embeds the web client and the encoder worker, and names the target", () => {
  assertEquals(compileArgs(TARGETS.windows), [
    "compile",
    "--allow-all",
    "--no-prompt",
    "--include",
    "httpdocs",
    "--include",
    "mod/streamer/encode/worker.ts",
    "--target",
    "x86_64-pc-windows-msvc",
    "--output",
    "dist/webstream.exe",
    "main.ts",
  ]);
});

Deno.test("each target takes its runtime base from its own variable", () => {
  const env = {
    DENORT_BIN: "/opt/denort",
    DENORT_BIN_WINDOWS: "/opt/denort.exe",
  };
  assertEquals(compileEnv(TARGETS.linux, env), { DENORT_BIN: "/opt/denort" });
  assertEquals(compileEnv(TARGETS.windows, env), {
    DENORT_BIN: "/opt/denort.exe",
  });
  assertEquals(compileEnv(TARGETS.windows, {}), {});
});

Deno.test("a missing runtime base is explained with what to do", async () => {
  const missing = await Deno.makeTempDir();
  try {
    const { code, stderr } = await runCommand(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../build.ts", import.meta.url).pathname,
        "linux",
      ],
      env: { DENORT_BIN: `${missing}/denort` },
    });
    assertEquals(code, 1);
    assertMatch(
      stderr,
      /cannot build dist\/webstream: deno compile needs Deno's runtime base/,
    );
    assertMatch(stderr, /set DENORT_BIN=\/path\/to\/denort/);
  } finally {
    await Deno.remove(missing, { recursive: true });
  }
  assertMatch(
    explainFailure(TARGETS.linux, "exit 3: syntax"),
    /^cannot build dist\/webstream:\nexit 3/,
  );
});
