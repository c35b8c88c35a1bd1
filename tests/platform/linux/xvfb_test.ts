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
import { runCommand } from "../../support/command.ts";
import { withTempDir } from "../../support/fs.ts";
import { withTestUser } from "../../support/pool_users.ts";
import { liveProcesses } from "../../support/proc.ts";
import { xdpyinfo } from "../../support/x11.ts";
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
  type XvfbOptions,
  type XvfbServer,
} from "../../../mod/platform/linux/xvfb.ts";

const ROOT = Deno.uid() === 0;

/** A test's temp folder, its Xauthority file and the servers it started. */
interface Fixture {
  dir: string;
  authFile: string;
  /** Servers started by {@linkcode Fixture.start}, stopped at the end. */
  servers: XvfbServer[];
  /** Starts Xvfb on `authFile`; the server is stopped when the test ends. */
  start(options: Omit<XvfbOptions, "authFile">): Promise<XvfbServer>;
}

/**
 * Runs `fn` with a temp folder holding an Xauthority file; afterwards stops
 * the servers `fn` started and removes the folder.
 */
async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(
      authFile,
      encodeXauthority([{ cookie: newCookie() }]),
      { mode: 0o600 },
    );
    const servers: XvfbServer[] = [];
    const start = async (options: Omit<XvfbOptions, "authFile">) => {
      const server = await startXvfb({ authFile, ...options });
      servers.push(server);
      return server;
    };
    try {
      await fn({ dir, authFile, servers, start });
    } finally {
      for (const server of servers) {
        await stopProcessGroup(server.child, { graceMs: 2_000 });
      }
    }
  }, { prefix: "webstream-xvfb-" });
}

/** A test with a fresh fixture (real servers make the sanitizers noisy). */
function fixtureTest(name: string, fn: (f: Fixture) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withFixture(fn),
  });
}

/**
 * Starts Xvfb on the fixture's Xauthority file with `options`, which must
 * fail and leave no process behind; resolves with the error.
 */
async function failedStart(
  f: Fixture,
  options: Omit<XvfbOptions, "authFile">,
): Promise<Error> {
  const error = await assertRejects(() => f.start(options));
  assertEquals(await processesMentioning(f.authFile), []);
  return error;
}

/** PIDs of live processes with an argument that mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  return (await liveProcesses())
    .filter((p) => p.argv.some((arg) => arg.includes(needle)))
    .map((p) => p.pid);
}

async function procStatus(pid: number): Promise<string> {
  return await Deno.readTextFile(`/proc/${pid}/status`);
}

fixtureTest(
  "startXvfb: the display answers with the requested geometry",
  async (f) => {
    const server = await f.start({
      screen: { width: 640, height: 480, depth: 16 },
    });
    assert(Number.isInteger(server.display) && server.display >= 0);
    const info = await xdpyinfo(`:${server.display}`, f.authFile);
    assert(info.ok, info.stderr);
    assertMatch(info.stdout, /dimensions:\s+640x480 pixels/);
    assertMatch(info.stdout, /depth of root window:\s+16 planes/);
    // -nolisten tcp: nothing accepts X connections over TCP.
    await assertRejects(
      () =>
        Deno.connect({ hostname: "127.0.0.1", port: 6000 + server.display }),
      Deno.errors.ConnectionRefused,
    );
  },
);

fixtureTest(
  "startXvfb: a screen that may grow starts at its size, up to its maximum",
  async (f) => {
    const server = await f.start({
      screen: {
        width: 640,
        height: 480,
        depth: 24,
        maxWidth: 1600,
        maxHeight: 1200,
      },
    });
    assertEquals(server.sizeProblem, undefined);
    const info = await xdpyinfo(`:${server.display}`, f.authFile);
    assert(info.ok, info.stderr);
    assertMatch(info.stdout, /dimensions:\s+640x480 pixels/);
    const randr = await runCommand("xrandr", {
      env: { DISPLAY: `:${server.display}`, XAUTHORITY: f.authFile },
      clearEnv: true,
    });
    assertMatch(
      randr.stdout,
      /minimum 1 x 1, current 640 x 480, maximum 1600 x 1200/,
    );
  },
);

fixtureTest("startXvfb: two servers get different displays", async (f) => {
  const screen = { width: 320, height: 200, depth: 24 };
  const started = await Promise.allSettled([
    f.start({ screen }),
    f.start({ screen }),
  ]);
  assertEquals(f.servers.length, 2, JSON.stringify(started));
  const [a, b] = f.servers;
  assertNotEquals(a.display, b.display);
  for (const server of f.servers) {
    const info = await xdpyinfo(`:${server.display}`, f.authFile);
    assert(info.ok, info.stderr);
    assertMatch(info.stdout, /dimensions:\s+320x200 pixels/);
  }
});

fixtureTest(
  "startXvfb: a server that cannot start is an error with its stderr",
  async (f) => {
    // Depth 7 is not a depth Xvfb supports; it exits at once.
    const error = await failedStart(f, {
      screen: { width: 640, height: 480, depth: 7 },
    });
    assertMatch(error.message, /^Xvfb exited before reporting a display: /);
    assertMatch(error.message, /depth|screen/i);
  },
);

fixtureTest(
  "startXvfb: a server not ready in time is killed and reported",
  async (f) => {
    // failedStart also shows startXvfb waited for the killed server.
    const error = await failedStart(f, {
      screen: { width: 640, height: 480, depth: 24 },
      timeoutMs: 1,
    });
    assertMatch(error.message, /^Xvfb did not report a display in time/);
  },
);

fixtureTest(
  "startXvfb: leads its own process group; stopProcessGroup ends it",
  async (f) => {
    const server = await f.start({
      screen: { width: 320, height: 240, depth: 24 },
      env: { PATH: "/usr/bin:/bin", WEBSTREAM_XVFB_TEST: "1" },
    });
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

    const display = `:${server.display}`;
    assert((await xdpyinfo(display, f.authFile)).ok);
    await stopProcessGroup(server.child, { graceMs: 5_000 });
    await server.child.status;
    assertEquals(await processesMentioning(f.authFile), []);
    const after = await xdpyinfo(display, f.authFile);
    assertEquals(after.ok, false);
  },
);

Deno.test({
  name: "startXvfb: as root, a server for a test user runs with its uid",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  // The fixture stops the server before the user is deleted.
  fn: () =>
    withTestUser("xvf", (user) =>
      withFixture(async (f) => {
        await Deno.chown(f.authFile, user.uid, user.gid);
        // The host (root) sets the start size on the user's server.
        const server = await f.start({
          screen: {
            width: 320,
            height: 240,
            depth: 24,
            maxWidth: 640,
            maxHeight: 480,
          },
          uid: user.uid,
          gid: user.gid,
          env: { PATH: "/usr/bin:/bin", HOME: user.home },
        });
        assertEquals(server.sizeProblem, undefined);
        const status = await procStatus(server.child.pid);
        const uids = status.match(/^Uid:\s+(.*)$/m)![1].trim().split(/\s+/);
        const gids = status.match(/^Gid:\s+(.*)$/m)![1].trim().split(/\s+/);
        assertEquals(uids.map(Number), Array(4).fill(user.uid));
        assertEquals(gids.map(Number), Array(4).fill(user.gid));
        assert((await processesOfUser(user.uid)).includes(server.child.pid));
        const info = await xdpyinfo(`:${server.display}`, f.authFile);
        assert(info.ok, info.stderr);
        assertMatch(info.stdout, /dimensions:\s+320x240 pixels/);
      })),
});
