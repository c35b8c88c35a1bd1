/**
 * Tests for `mod/platform/linux/xvfb.ts` with real Xvfb servers: the display
 * returned answers `xdpyinfo` with the requested geometry, two servers get
 * different displays, a server that cannot start or does not report in time
 * is an error and leaves no process behind, the server leads its own process
 * group (so `stopProcessGroup` ends it), it runs with exactly the environment
 * given, and (root) a server started for a test user runs with that uid.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "../../support/assert.ts";
import { testUsername } from "../../support/config.ts";
import { waitFor } from "../../support/wait.ts";
import {
  createPoolUser,
  deleteUser,
} from "../../../mod/platform/linux/accounts.ts";
import {
  processesOfUser,
  stopProcessGroup,
} from "../../../mod/platform/linux/processes.ts";
import {
  encodeXauthority,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import {
  startXvfb,
  type XvfbServer,
} from "../../../mod/platform/linux/xvfb.ts";

const ROOT = Deno.uid() === 0;

/** A temp folder with an Xauthority file, removed (with servers) by `done`. */
async function fixture(): Promise<{
  dir: string;
  authFile: string;
  servers: XvfbServer[];
  done(): Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-xvfb-" });
  const authFile = `${dir}/Xauthority`;
  await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]), {
    mode: 0o600,
  });
  const servers: XvfbServer[] = [];
  return {
    dir,
    authFile,
    servers,
    async done() {
      for (const server of servers) {
        await stopProcessGroup(server.child, { graceMs: 2_000 });
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function xdpyinfo(
  display: number,
  authFile: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const out = await new Deno.Command("xdpyinfo", {
    env: { DISPLAY: `:${display}`, XAUTHORITY: authFile },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    ok: out.success,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

/** PIDs of live processes whose command line mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (/^State:\s+Z/m.test(status)) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(needle)) out.push(Number(entry.name));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

async function procStatus(pid: number): Promise<string> {
  return await Deno.readTextFile(`/proc/${pid}/status`);
}

Deno.test({
  name: "startXvfb: the display answers with the requested geometry",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fixture();
    try {
      const server = await startXvfb({
        authFile: f.authFile,
        screen: { width: 640, height: 480, depth: 16 },
      });
      f.servers.push(server);
      assert(Number.isInteger(server.display) && server.display >= 0);
      const info = await xdpyinfo(server.display, f.authFile);
      assert(info.ok, info.stderr);
      assertMatch(info.stdout, /dimensions:\s+640x480 pixels/);
      assertMatch(info.stdout, /depth of root window:\s+16 planes/);
      // -nolisten tcp: nothing accepts X connections over TCP.
      await assertRejects(
        () =>
          Deno.connect({ hostname: "127.0.0.1", port: 6000 + server.display }),
        Deno.errors.ConnectionRefused,
      );
    } finally {
      await f.done();
    }
  },
});

Deno.test({
  name: "startXvfb: two servers get different displays",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fixture();
    try {
      const screen = { width: 320, height: 200, depth: 24 };
      const started = await Promise.allSettled([
        startXvfb({ authFile: f.authFile, screen }),
        startXvfb({ authFile: f.authFile, screen }),
      ]);
      for (const result of started) {
        if (result.status === "fulfilled") f.servers.push(result.value);
      }
      assertEquals(f.servers.length, 2, JSON.stringify(started));
      const [a, b] = f.servers;
      assertNotEquals(a.display, b.display);
      for (const server of f.servers) {
        const info = await xdpyinfo(server.display, f.authFile);
        assert(info.ok, info.stderr);
        assertMatch(info.stdout, /dimensions:\s+320x200 pixels/);
      }
    } finally {
      await f.done();
    }
  },
});

Deno.test({
  name: "startXvfb: a server that cannot start is an error with its stderr",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fixture();
    try {
      // Depth 7 is not a depth Xvfb supports; it exits at once.
      const error = await assertRejects(() =>
        startXvfb({
          authFile: f.authFile,
          screen: { width: 640, height: 480, depth: 7 },
        })
      );
      assertMatch(error.message, /^Xvfb exited before reporting a display: /);
      assertMatch(error.message, /depth|screen/i);
      assertEquals(await processesMentioning(f.authFile), []);
    } finally {
      await f.done();
    }
  },
});

Deno.test({
  name: "startXvfb: a server not ready in time is killed and reported",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fixture();
    try {
      const error = await assertRejects(() =>
        startXvfb({
          authFile: f.authFile,
          screen: { width: 640, height: 480, depth: 24 },
          timeoutMs: 1,
        })
      );
      assertMatch(error.message, /^Xvfb did not report a display in time/);
      // startXvfb waited for the killed server, so nothing is left.
      assertEquals(await processesMentioning(f.authFile), []);
    } finally {
      await f.done();
    }
  },
});

Deno.test({
  name: "startXvfb: leads its own process group; stopProcessGroup ends it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fixture();
    try {
      const server = await startXvfb({
        authFile: f.authFile,
        screen: { width: 320, height: 240, depth: 24 },
        env: { PATH: "/usr/bin:/bin", WEBSTREAM_XVFB_TEST: "1" },
      });
      f.servers.push(server);
      const stat = await Deno.readTextFile(`/proc/${server.child.pid}/stat`);
      const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(
        " ",
      );
      assertEquals(Number(pgrp), server.child.pid);
      // detached: a session of its own, so it leads its group.
      assertEquals(Number(session), server.child.pid);

      // With env given, the server gets exactly that environment.
      const environ = (await Deno.readTextFile(
        `/proc/${server.child.pid}/environ`,
      )).split("\0").filter(Boolean).sort();
      assertEquals(environ, ["PATH=/usr/bin:/bin", "WEBSTREAM_XVFB_TEST=1"]);

      assert((await xdpyinfo(server.display, f.authFile)).ok);
      await stopProcessGroup(server.child, { graceMs: 5_000 });
      await server.child.status;
      assertEquals(await processesMentioning(f.authFile), []);
      const after = await xdpyinfo(server.display, f.authFile);
      assertEquals(after.ok, false);
    } finally {
      await f.done();
    }
  },
});

Deno.test({
  name: "startXvfb: as root, a server for a test user runs with its uid",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const name = testUsername() + "xvf";
    const f = await fixture();
    let created = false;
    try {
      const skeleton = `${f.dir}/skel`;
      await Deno.mkdir(skeleton);
      const user = await createPoolUser(name, "Xvfb-Passw0rd", { skeleton });
      created = true;
      await Deno.chown(f.authFile, user.uid, user.gid);
      const server = await startXvfb({
        authFile: f.authFile,
        screen: { width: 320, height: 240, depth: 24 },
        uid: user.uid,
        gid: user.gid,
        env: { PATH: "/usr/bin:/bin", HOME: user.home },
      });
      f.servers.push(server);
      const status = await procStatus(server.child.pid);
      const uids = status.match(/^Uid:\s+(.*)$/m)![1].trim().split(/\s+/);
      const gids = status.match(/^Gid:\s+(.*)$/m)![1].trim().split(/\s+/);
      assertEquals(uids.map(Number), Array(4).fill(user.uid));
      assertEquals(gids.map(Number), Array(4).fill(user.gid));
      assert((await processesOfUser(user.uid)).includes(server.child.pid));
      const info = await xdpyinfo(server.display, f.authFile);
      assert(info.ok, info.stderr);
    } finally {
      await f.done();
      if (created) {
        await waitFor(async () => {
          const user = await new Deno.Command("id", { args: ["-u", name] })
            .output();
          const uid = Number(new TextDecoder().decode(user.stdout));
          return !(await processesOfUser(uid)).length;
        }, { timeoutMs: 10_000, what: "the test user's processes to end" });
        await deleteUser(name);
      }
    }
  },
});
