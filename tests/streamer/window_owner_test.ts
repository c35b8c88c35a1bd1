/**
 * Tests for `mod/streamer/window_owner.ts`: a window belongs to the app
 * whose process group made it; a restarted streamer, which did not start
 * the apps, matches the group leader's command line; nothing else matches.
 * Also `/proc` read for real (this test's own process and a child).
 *
 * @module
 */
import {
  PROC,
  type ProcessProbe,
  windowOwner,
} from "../../mod/streamer/window_owner.ts";
import { assertEquals } from "../support/assert.ts";

/** Processes by pid: their group and argv. */
function probe(
  table: Record<number, { group: number; argv: string[] }>,
): ProcessProbe {
  return {
    group: (pid) => table[pid]?.group,
    argv: (pid) => table[pid]?.argv,
  };
}

const PROCS = probe({
  100: { group: 100, argv: ["/usr/bin/xterm", "-bg", "red"] },
  101: { group: 100, argv: ["bash"] },
  200: { group: 200, argv: ["python3", "/opt/my app.py"] },
  201: { group: 200, argv: ["python3", "/opt/my app.py"] },
  300: { group: 300, argv: ["other"] },
});

Deno.test("a window belongs to the app whose process group made it", () => {
  const apps = [
    { command: "xterm -bg red", pid: 100 },
    { command: "python3 '/opt/my app.py'", pid: 200 },
  ];
  assertEquals(windowOwner(101, apps, { probe: PROCS }), "xterm -bg red");
  assertEquals(windowOwner(201, apps, { probe: PROCS }), apps[1].command);
  assertEquals(windowOwner(300, apps, { probe: PROCS }), undefined);
  assertEquals(windowOwner(undefined, apps, { probe: PROCS }), undefined);
  assertEquals(windowOwner(999, apps, { probe: PROCS }), undefined);
});

Deno.test("apps another streamer started are known by their command line", () => {
  const apps = [
    { command: "xterm -bg red" },
    { command: "python3 '/opt/my app.py'" },
    { command: "sh -c 'unterminated" },
  ];
  assertEquals(windowOwner(101, apps, { probe: PROCS }), "xterm -bg red");
  assertEquals(windowOwner(201, apps, { probe: PROCS }), apps[1].command);
  assertEquals(windowOwner(300, apps, { probe: PROCS }), undefined);
});

Deno.test("/proc gives a process's group and argv", async () => {
  const child = new Deno.Command("sleep", {
    args: ["30"],
    detached: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    assertEquals(PROC.group(child.pid), child.pid, "it leads its group");
    // Deno starts the program by its full path.
    assertEquals(PROC.argv(child.pid), ["/usr/bin/sleep", "30"]);
    assertEquals(
      windowOwner(child.pid, [{ command: "sleep 30" }]),
      "sleep 30",
      "a command line matches the program's full path",
    );
    assertEquals(PROC.group(Deno.pid) !== undefined, true);
  } finally {
    Deno.kill(-child.pid, "SIGTERM");
    await child.status;
  }
  assertEquals(PROC.group(child.pid), undefined, "gone");
  assertEquals(PROC.argv(child.pid), undefined);
});
