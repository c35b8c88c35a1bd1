/**
 * Tests for `mod/streamer/apps.ts`: an app starts from a command line with
 * the session's environment minus webstream's own variables (plus what the
 * caller adds), is tracked while it runs and stopped by `stopAll()`; a
 * command line that cannot be split, or a program that does not exist, is
 * logged and nothing runs.
 *
 * @module
 */
import { appEnvironment, Apps } from "../../mod/streamer/apps.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";

Deno.test("the app environment drops webstream's variables and DENO_DIR", () => {
  Deno.env.set("WEBSTREAM_APPS_TEST", "secret");
  try {
    const env = appEnvironment();
    assertEquals(env.WEBSTREAM_APPS_TEST, undefined);
    assertEquals(env.DENO_DIR, undefined);
    assertEquals(env.PATH, Deno.env.get("PATH"));
  } finally {
    Deno.env.delete("WEBSTREAM_APPS_TEST");
  }
});

Deno.test("an app starts with its arguments and environment, and is reported", async () => {
  await withTempDir(async (dir) => {
    const { logger } = captureLogs();
    const started: string[] = [];
    const apps = new Apps({ logger, onStarted: (p) => started.push(p) });
    apps.start(
      `/bin/sh -c 'echo "$0 $1 $EXTRA" > "${dir}/out"' "a b" c`,
      { EXTRA: "added" },
    );
    assertEquals(started, ["/bin/sh"]);
    const out = await waitFor(
      () => Deno.readTextFile(`${dir}/out`).catch(() => ""),
      { what: "the app's output" },
    );
    assertEquals(out.trim(), "a b c added");
    await waitFor(() => apps.running === 0, { what: "the app to exit" });
  });
});

Deno.test("stopAll ends the apps still running", async () => {
  const { logger, records } = captureLogs();
  const apps = new Apps({ logger });
  apps.start("sleep 30");
  assertEquals(apps.running, 1);
  apps.stopAll();
  await waitFor(() => apps.running === 0, { what: "sleep to end" });
  assert(records.some((r) => r.msg === "app exited" && r.program === "sleep"));
  apps.stopAll(); // nothing left: a no-op
});

Deno.test("unsplittable, empty and missing command lines start nothing", () => {
  const { logger, records } = captureLogs();
  const started: string[] = [];
  const apps = new Apps({ logger, onStarted: (p) => started.push(p) });
  apps.start("sh -c 'unterminated");
  apps.start("   ");
  apps.start("/nonexistent/webstream-app");
  assertEquals(started, []);
  assertEquals(apps.running, 0);
  const errors = records.filter((r) => r.msg === "cannot start app");
  assertEquals(errors.length, 2);
  assert(/unterminated/.test(String(errors[0].reason)));
  assertEquals(errors[1].program, "/nonexistent/webstream-app");
});

Deno.test("running apps are listed with their command line and pid until they exit", async () => {
  const { logger } = captureLogs();
  const exited: string[] = [];
  const apps = new Apps({
    logger,
    onExited: (app) => exited.push(app.command),
  });
  apps.start("sleep 30");
  const [app] = apps.list();
  assertEquals(app.command, "sleep 30");
  assertEquals(app.program, "sleep");
  assert(app.pid > 0);
  apps.stopAll();
  await waitFor(() => exited.length === 1, { what: "the exit to be reported" });
  assertEquals(exited, ["sleep 30"]);
  assertEquals(apps.list(), []);
});

Deno.test("start says whether the app started; runs says whether its command runs", async () => {
  const { logger } = captureLogs();
  const exited: string[] = [];
  const apps = new Apps({
    logger,
    onExited: (app) => exited.push(app.command),
  });
  assertEquals(apps.start("/nonexistent/webstream-app"), false);
  assertEquals(apps.start("sh -c 'unterminated"), false);
  assertEquals(apps.start("sleep 31"), true);
  assert(apps.runs("sleep 31"));
  assert(!apps.runs("sleep 32"));
  apps.stopAll();
  await waitFor(() => exited.length === 1, { what: "the exit to be reported" });
  assert(!apps.runs("sleep 31"));
});

Deno.test("a streamer started again takes up the recorded apps and reports their exits", async () => {
  await withTempDir(async (dir) => {
    const record = `${dir}/webstream-apps.json`;
    const auth = `${dir}/Xauthority`;
    const { logger } = captureLogs();
    const first = new Apps({ logger, record });
    first.start("sleep 33", { XAUTHORITY: auth });
    first.start("sleep 34", { XAUTHORITY: `${dir}/another` });
    const recorded = await waitFor(async () => {
      const text = await Deno.readTextFile(record).catch(() => "[]");
      return JSON.parse(text).length === 2 || undefined;
    }, { what: "both apps recorded" });
    assert(recorded);

    // A second streamer of the session (the first one "died").
    const exited: string[] = [];
    const second = new Apps({
      logger,
      record,
      onExited: (app) => exited.push(app.command),
    });
    const taken = await second.adopt(auth);
    const pid = first.list().find((a) => a.command === "sleep 33")!.pid;
    assertEquals(taken, [{ command: "sleep 33", program: "sleep", pid }]);
    assertEquals(second.list(), taken, "only the session's own app");
    assert(second.runs("sleep 33"));
    assertEquals(await second.adopt(auth), [], "taken up once");

    Deno.kill(pid, "SIGTERM");
    await waitFor(() => exited.length === 1, { what: "the exit reported" });
    assertEquals(exited, ["sleep 33"]);
    assertEquals(second.running, 0);
    first.stopAll();
    await waitFor(() => first.running === 0, { what: "the first's apps end" });
  });
});
