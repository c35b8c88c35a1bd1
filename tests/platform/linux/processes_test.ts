/**
 * Tests for `mod/platform/linux/processes.ts` with real processes:
 * `stopProcessGroup` ends a detached child together with its grandchildren,
 * sending SIGTERM first and SIGKILL only after the grace period to a process
 * that ignores SIGTERM; `processesOfUser` lists a user's live processes and
 * skips zombies; `endUserProcesses` (root) ends every process of a real test
 * user, including a shell loop that keeps forking, and refuses root's and its
 * own uid. For processes this run did not start (a session an earlier run
 * of the host left): a process is named by PID and start time, watched
 * through `/proc`, its group stopped by that name (never a reused PID's),
 * and a session's processes are found and ended by a variable of their
 * environment, whatever group they moved to.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { spawnQuiet } from "../../support/command.ts";
import { testUsername } from "../../support/config.ts";
import { waitFor } from "../../support/wait.ts";
import {
  createPoolUser,
  deleteUser,
  type UserEntry,
} from "../../../mod/platform/linux/accounts.ts";
import {
  endProcessesWithEnv,
  endUserProcesses,
  isRunning,
  processesOfUser,
  processesWithEnv,
  processRef,
  processStart,
  signalGroup,
  stopGroupOf,
  stopProcessGroup,
  watchExit,
} from "../../../mod/platform/linux/processes.ts";

const ROOT = Deno.uid() === 0;

/** State, parent and process group of a process; undefined once it is gone. */
async function procStat(
  pid: number,
): Promise<{ state: string; ppid: number; pgrp: number } | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(
      " ",
    );
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie. */
async function alive(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** The live members of process group `pgid`. */
async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await procStat(Number(entry.name));
    if (stat && stat.pgrp === pgid && stat.state !== "Z") {
      out.push(Number(entry.name));
    }
  }
  return out;
}

/** The live children of `pid`, and whether each is a zombie. */
async function childrenOf(
  pid: number,
): Promise<{ pid: number; zombie: boolean }[]> {
  const out: { pid: number; zombie: boolean }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await procStat(Number(entry.name));
    if (stat?.ppid === pid) {
      out.push({ pid: Number(entry.name), zombie: stat.state === "Z" });
    }
  }
  return out;
}

/** Runs `script` with sh, quietly, as the leader of a new process group. */
function spawnDetached(
  script: string,
  ids: { uid?: number; gid?: number } = {},
): Deno.ChildProcess {
  // cwd "/": another user may not be allowed into the checkout.
  return spawnQuiet("sh", {
    args: ["-c", script],
    detached: true,
    cwd: "/",
    ...ids,
  });
}

/** Last-resort cleanup: SIGKILL to the child's own process group. */
async function killGroup(child: Deno.ChildProcess): Promise<void> {
  signalGroup(child.pid, "SIGKILL");
  await child.status;
}

Deno.test("signalGroup: false for a group that does not exist", async () => {
  const child = spawnDetached("exit 0");
  await child.status;
  assertEquals(signalGroup(child.pid, "SIGTERM"), false);
});

Deno.test("stopProcessGroup: ends a detached child and its grandchild", async () => {
  const child = spawnDetached("sleep 300 & sleep 300");
  try {
    // The shell plus its background sleep (the shell may exec the last one).
    const members = await waitFor(async () => {
      const found = await groupMembers(child.pid);
      return found.length >= 2 ? found : undefined;
    }, { what: "the child's process group", timeoutMs: 10_000 });
    const grandchildren = members.filter((pid) => pid !== child.pid);
    assert(grandchildren.length >= 1, `members: ${members}`);

    await stopProcessGroup(child, { graceMs: 5_000 });

    const status = await child.status;
    assertEquals(status.success, false);
    assertEquals(status.signal, "SIGTERM");
    await waitFor(async () => !(await groupMembers(child.pid)).length, {
      what: "the process group to be gone",
      timeoutMs: 10_000,
    });
    for (const pid of grandchildren) assert(!await alive(pid), `${pid} lives`);
  } finally {
    await killGroup(child);
  }
});

Deno.test("stopProcessGroup: SIGKILL after the grace period for a process ignoring SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webstream-proc-" });
  const marker = `${dir}/term`;
  // The trap records SIGTERM and carries on; only SIGKILL can end it.
  const child = spawnDetached(
    `trap 'echo got-term >> ${marker}' TERM; touch ${dir}/ready; ` +
      "while :; do sleep 0.05; done",
  );
  try {
    await waitFor(() => Deno.stat(`${dir}/ready`), {
      what: "the trap to be installed",
      timeoutMs: 10_000,
    });
    const graceMs = 600;
    const started = performance.now();
    await stopProcessGroup(child, { graceMs });
    const elapsed = performance.now() - started;

    const status = await child.status;
    assertEquals(status.signal, "SIGKILL");
    // Not killed before the grace period had passed.
    assert(elapsed >= graceMs - 50, `stopped after ${elapsed} ms`);
    // SIGTERM came first and reached the shell's trap.
    assert((await Deno.readTextFile(marker)).includes("got-term"));
    await waitFor(async () => !(await groupMembers(child.pid)).length, {
      what: "the process group to be gone",
      timeoutMs: 10_000,
    });
  } finally {
    await killGroup(child);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stopProcessGroup: a child that has already exited is fine", async () => {
  const child = spawnDetached("exit 7");
  await child.status;
  await stopProcessGroup(child, { graceMs: 100 });
  assertEquals((await child.status).code, 7);
});

Deno.test("processesOfUser: lists own live processes and skips zombies", async () => {
  const uid = Deno.uid()!;
  // The background sleep exits unreaped once the shell execs the long sleep.
  const child = spawnDetached("sleep 0.05 & exec sleep 300");
  try {
    const zombie = await waitFor(async () => {
      const kids = await childrenOf(child.pid);
      return kids.find((k) => k.zombie);
    }, { what: "a zombie child", timeoutMs: 10_000 });
    const pids = await processesOfUser(uid);
    assert(pids.includes(Deno.pid), "this process is listed");
    assert(pids.includes(child.pid), "the child is listed");
    assert(!pids.includes(zombie.pid), "the zombie is not listed");
    assertEquals(await processesOfUser(2 ** 31 - 2), []);
  } finally {
    await killGroup(child);
  }
});

Deno.test("endUserProcesses: refuses root and this process's own uid", async () => {
  await assertRejects(() => endUserProcesses(0), Error, /refusing/);
  await assertRejects(() => endUserProcesses(Deno.uid()!), Error, /refusing/);
  // This process is still here to tell.
  assert(await alive(Deno.pid));
});

Deno.test({
  name: "processesOfUser / endUserProcesses: a real pool user's processes",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const name = testUsername() + "prc";
    const skeleton = await Deno.makeTempDir({ prefix: "webstream-skel-" });
    const children: Deno.ChildProcess[] = [];
    let user: UserEntry | undefined;
    try {
      user = await createPoolUser(name, "Proc-Passw0rd", { skeleton });
      const ids = { uid: user.uid, gid: user.gid };
      const uid = user.uid;

      const sleeper = spawnDetached("exec sleep 300", ids);
      children.push(sleeper);
      const zombieMaker = spawnDetached("sleep 0.05 & exec sleep 300", ids);
      children.push(zombieMaker);

      await t.step("lists the user's processes, not zombies", async () => {
        const zombie = await waitFor(async () => {
          const kids = await childrenOf(zombieMaker.pid);
          return kids.find((k) => k.zombie);
        }, { what: "a zombie child", timeoutMs: 10_000 });
        const pids = await waitFor(async () => {
          const found = await processesOfUser(uid);
          return found.includes(sleeper.pid) ? found : undefined;
        }, { what: "the sleeper", timeoutMs: 10_000 });
        assert(pids.includes(zombieMaker.pid));
        assert(!pids.includes(zombie.pid), "the zombie is not listed");
        assert(!pids.includes(Deno.pid), "root's processes are not listed");
        assertEquals(pids.sort(), [sleeper.pid, zombieMaker.pid].sort());
      });

      await t.step("ends every process, including a forking loop", async () => {
        // Keeps forking short-lived sleeps, in a group of its own.
        const forker = spawnDetached(
          "while :; do sleep 30 & sleep 0.01; done",
          ids,
        );
        children.push(forker);
        // A second, unrelated process group of the same user.
        const other = spawnDetached("sleep 300 & sleep 300", ids);
        children.push(other);
        await waitFor(async () => (await processesOfUser(uid)).length >= 8, {
          what: "the forking loop to spawn",
          timeoutMs: 10_000,
        });

        await endUserProcesses(uid);

        assertEquals(await processesOfUser(uid), []);
        for (const child of children) {
          assertEquals((await child.status).signal, "SIGKILL");
        }
        // Still none a moment later: nothing forked a survivor.
        await new Promise((r) => setTimeout(r, 200));
        assertEquals(await processesOfUser(uid), []);
      });

      await t.step("with nothing left to end it returns at once", async () => {
        await endUserProcesses(uid);
        assertEquals(await processesOfUser(uid), []);
      });
    } finally {
      for (const child of children) await killGroup(child);
      if (user) {
        // Anything a failed step left behind, by PID.
        for (const pid of await processesOfUser(user.uid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // Gone.
          }
        }
        await waitFor(async () => !(await processesOfUser(user!.uid)).length, {
          timeoutMs: 10_000,
        });
      }
      await deleteUser(name).catch(() => {});
      await Deno.remove(skeleton, { recursive: true });
    }
  },
});

Deno.test("a process is named by PID and start time; its exit is seen through /proc", async () => {
  const child = spawnDetached("sleep 300");
  try {
    const ref = (await processRef(child.pid))!;
    assert(ref, "the child's reference");
    assertEquals(ref.pid, child.pid);
    assertEquals(await processStart(child.pid), ref.start);
    assert(await isRunning(ref));
    // The same PID with another start time is another process.
    assertEquals(
      await isRunning({ pid: ref.pid, start: ref.start + 1 }),
      false,
    );
    const gone = watchExit(ref, { intervalMs: 20 });
    signalGroup(child.pid, "SIGKILL");
    await child.status;
    await gone;
    assertEquals(await isRunning(ref), false);
    assertEquals(await processStart(child.pid), undefined);
  } finally {
    await killGroup(child);
  }
});

Deno.test("stopGroupOf: ends a group by its name, and leaves a reused PID alone", async () => {
  const child = spawnDetached("sleep 300 & sleep 300");
  try {
    const ref = (await processRef(child.pid))!;
    await waitFor(async () => (await groupMembers(child.pid)).length >= 2, {
      what: "the group",
    });
    // A wrong start time: the PID is someone else's now; nothing is sent.
    await stopGroupOf({ pid: ref.pid, start: ref.start + 1 }, { graceMs: 100 });
    assert(await alive(child.pid), "untouched");
    await stopGroupOf(ref, { graceMs: 5_000 });
    assertEquals((await child.status).signal, "SIGTERM");
    await waitFor(async () => !(await groupMembers(child.pid)).length, {
      what: "the group to be gone",
    });
  } finally {
    await killGroup(child);
  }
});

Deno.test("a session's processes are found and ended by their environment", async () => {
  const marker = `/tmp/webstream-test-${crypto.randomUUID()}/Xauthority`;
  const other = `${marker}.other`;
  const spawn = (value: string, script: string) =>
    spawnQuiet("sh", {
      args: ["-c", script],
      env: { XAUTHORITY: value },
      detached: true,
      cwd: "/",
    });
  // Two of the session's processes (one in a group of its own, one that
  // ignores SIGTERM), and one of another session.
  const ours = [
    spawn(marker, "sleep 300"),
    spawn(marker, "trap '' TERM; while :; do sleep 0.05; done"),
  ];
  const theirs = spawn(other, "sleep 300");
  try {
    await waitFor(async () =>
      (await processesWithEnv("XAUTHORITY", marker))
        .length >= 2, { what: "the session's processes" });
    const found = await processesWithEnv("XAUTHORITY", marker);
    for (const child of ours) assert(found.includes(child.pid));
    assert(!found.includes(theirs.pid));
    await endProcessesWithEnv("XAUTHORITY", marker, { graceMs: 200 });
    assertEquals((await ours[0].status).signal, "SIGTERM");
    assertEquals((await ours[1].status).signal, "SIGKILL");
    assertEquals(await processesWithEnv("XAUTHORITY", marker), []);
    assert(await alive(theirs.pid), "another session's process is left");
  } finally {
    for (const child of [...ours, theirs]) await killGroup(child);
  }
});
