/**
 * Tests for `mod/streamer/app_record.ts`: the record round-trips and is
 * written owner-only; a missing one is empty, a bad one an error naming
 * what is wrong; an entry is a session app only while its process runs as
 * recorded (start time), leads its process group and has the session's
 * `XAUTHORITY`.
 *
 * @module
 */
import {
  appRecordPath,
  isSessionApp,
  readAppRecord,
  writeAppRecord,
} from "../../mod/streamer/app_record.ts";
import { processStart } from "../../mod/platform/linux/processes.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";

const OPTIONS = { ignore: Deno.build.os !== "linux" };

Deno.test(
  "the record round-trips, owner-only; bad ones name the problem",
  OPTIONS,
  async () => {
    await withTempDir(async (dir) => {
      const path = appRecordPath({ XDG_RUNTIME_DIR: dir, HOME: "/nowhere" })!;
      assertEquals(path, `${dir}/webstream-apps.json`);
      assertEquals(appRecordPath({ HOME: dir }), path);
      assertEquals(appRecordPath({}), undefined);
      assertEquals(await readAppRecord(path), { ok: true, apps: [] });
      const apps = [{ command: "xterm -T 'a b'", pid: 42, start: 1234 }];
      await writeAppRecord(path, apps);
      assertEquals(await readAppRecord(path), { ok: true, apps });
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      await Deno.writeTextFile(path, "[");
      const broken = await readAppRecord(path);
      assert(!broken.ok);
      assertMatch(broken.error, /^not JSON/);
      await Deno.writeTextFile(path, JSON.stringify([{ command: "", pid: 0 }]));
      const invalid = await readAppRecord(path);
      assert(!invalid.ok);
      assertMatch(invalid.error, /0\.command/);
    });
  },
);

Deno.test(
  "a session app runs as recorded, leads its group and is the session's",
  OPTIONS,
  async () => {
    const auth = "/tmp/webstream-test-xauthority";
    const spawn = (detached: boolean) =>
      new Deno.Command("sleep", {
        args: ["30"],
        env: { XAUTHORITY: auth },
        detached,
        stdout: "null",
        stderr: "null",
      }).spawn();
    const leader = spawn(true);
    const member = spawn(false); // in this process's group
    try {
      const start = (await processStart(leader.pid))!;
      const app = { command: "sleep 30", pid: leader.pid, start };
      assert(await isSessionApp(app, auth));
      assert(
        !await isSessionApp(app, "/tmp/another-session"),
        "another session",
      );
      assert(
        !await isSessionApp({ ...app, start: start + 1 }, auth),
        "PID reused",
      );
      const memberStart = (await processStart(member.pid))!;
      assert(
        !await isSessionApp(
          { command: "sleep 30", pid: member.pid, start: memberStart },
          auth,
        ),
        "not a group leader",
      );
      leader.kill("SIGKILL");
      await leader.status;
      assert(!await isSessionApp(app, auth), "gone");
    } finally {
      for (const child of [leader, member]) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone.
        }
        await child.status;
      }
    }
  },
);
