/**
 * End-to-end tests for the Linux platform (`mod/platform/linux/mod.ts`) with
 * real Xvfb servers and real `webstream streamer` children that connect to a
 * small `/control` WebSocket server the test runs on 127.0.0.1:
 *
 * - accountMode `system` (root): real pool users are created (and a
 *   non-pool user of the same name is refused), the streamer runs as the
 *   pool user in its home with a working `DISPLAY` (and its licence proof
 *   in its environment, never on its command line), its control connection
 *   verifies as the account while the test's own does not, the session has
 *   its own PulseAudio as the user (`PULSE_SERVER` in the streamer's
 *   environment), `endSession` ends the streamer, Xvfb and every process of
 *   the user, a killed Xvfb ends the session with a reason naming the
 *   display, `cleanAccount` rebuilds the home and applies restrictions, and
 *   `removeAccount` deletes the user.
 * - accountMode `current`: the same session life cycle as this process's
 *   user (the licence proof again in the environment only; PulseAudio ended
 *   with the session, and by a later run after a crash), with homes
 *   under a temporary runtime directory, and restrictions reported as not
 *   applied; a session whose PulseAudio cannot start still starts, without
 *   `PULSE_SERVER`, and the platform logs why.
 *
 * @module
 */
import { ownDenoDirectory } from "../../../mod/platform/linux/streamer_runtime.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "../../support/assert.ts";
import { runCommand, spawnQuiet } from "../../support/command.ts";
import { testUsername } from "../../support/config.ts";
import { exists, withTempDir } from "../../support/fs.ts";
import {
  findStreamer,
  liveProcesses,
  type ProcInfo,
} from "../../support/proc.ts";
import { shadowHash } from "../../support/pool_users.ts";
import { freePort } from "../../support/ports.ts";
import { waitFor } from "../../support/wait.ts";
import { xdpyinfo } from "../../support/x11.ts";
import { createLogger, type Logger } from "../../../mod/log/mod.ts";
import { createLinuxPlatform } from "../../../mod/platform/linux/mod.ts";
import {
  lookupUser,
  POOL_GECOS,
} from "../../../mod/platform/linux/accounts.ts";
import { processesOfUser } from "../../../mod/platform/linux/processes.ts";
import type {
  Hygiene,
  Platform,
  PlatformSession,
  SessionSpec,
  StreamerLicence,
} from "../../../mod/platform/types.ts";

const ROOT = Deno.uid() === 0;
const SCREEN = { width: 800, height: 600, depth: 24 };

// ---------------------------------------------------------------- helpers --

/** One connection to the test's control server. */
interface ControlConnection {
  /** The client's address as the server saw it. */
  remote: Deno.NetAddr;
  /** Text messages received, in order. */
  messages: string[];
  /** The server side of the socket. */
  socket: WebSocket;
}

/** A minimal `/control` WebSocket server on loopback. */
interface ControlServer {
  url: string;
  connections: ControlConnection[];
  /** The first connection that sent `REQUEST_SESSION_INFO:<account>`. */
  claimFrom(account: string): Promise<ControlConnection>;
  stop(): Promise<void>;
}

function startControlServer(): ControlServer {
  const connections: ControlConnection[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      if (new URL(request.url).pathname !== "/control") {
        return new Response("not found", { status: 404 });
      }
      // The address must be read before the upgrade closes the request.
      const remote = { ...info.remoteAddr } as Deno.NetAddr;
      const { socket, response } = Deno.upgradeWebSocket(request);
      const connection: ControlConnection = { remote, messages: [], socket };
      connections.push(connection);
      socket.onmessage = (event) =>
        connection.messages.push(String(event.data));
      socket.onerror = () => {};
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/control`,
    connections,
    claimFrom: (account) =>
      waitFor(
        () =>
          connections.find((c) =>
            c.messages.includes(`REQUEST_SESSION_INFO:${account}`)
          ),
        { what: `REQUEST_SESSION_INFO:${account}`, timeoutMs: 30_000 },
      ),
    async stop() {
      for (const { socket } of connections) {
        if (socket.readyState === WebSocket.OPEN) socket.close();
      }
      await server.shutdown();
    },
  };
}

/** Opens a control connection from this process and claims `account`. */
async function claimAsTest(url: string, account: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("test control socket failed"));
  });
  socket.send(`REQUEST_SESSION_INFO:${account}`);
  return socket;
}

function quietLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger({ format: "json", sink: (l) => lines.push(l) }),
  };
}

/** The Xvfb serving the session of `account` under `runtimeDir`. */
async function findXvfb(
  runtimeDir: string,
  account: string,
): Promise<ProcInfo | undefined> {
  const auth = `${runtimeDir}/sessions/${account}/Xauthority`;
  return (await liveProcesses()).find((p) =>
    p.argv[0]?.endsWith("Xvfb") && p.argv.includes(auth)
  );
}

/** The session PulseAudio of `account` under `runtimeDir`. */
async function findPulseAudio(
  runtimeDir: string,
  account: string,
): Promise<ProcInfo | undefined> {
  const socket = `socket=${runtimeDir}/sessions/${account}/pulse/native`;
  return (await liveProcesses()).find((p) =>
    p.argv[0]?.endsWith("pulseaudio") &&
    p.argv.some((a) => a.includes(socket))
  );
}

async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(`/proc/${pid}/environ`);
  const env: Record<string, string> = {};
  for (const pair of text.split("\0").filter(Boolean)) {
    const at = pair.indexOf("=");
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

async function alive(pid: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** SIGKILLs, by PID, every live process whose argv matches. */
async function killMatching(match: (p: ProcInfo) => boolean): Promise<void> {
  for (const p of (await liveProcesses()).filter(match)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }
}

/** What an end-to-end test runs on: see {@linkcode setUpPlatform}. */
interface PlatformRig {
  /** A temp folder every user can traverse; the test removes it. */
  dir: string;
  /** A skeleton in `dir`. */
  skeleton: string;
  /** The platform's runtime directory, in `dir` (not made yet). */
  runtimeDir: string;
  control: ControlServer;
  platform: Platform;
  /** The platform's log lines (JSON). */
  logs: string[];
  /** Sessions that {@linkcode PlatformRig.stop} ends. */
  sessions: PlatformSession[];
  /**
   * Starts a session for `spec` (listed in `sessions`), checks its display
   * name and that its streamer claims the account first, and finds the
   * streamer's process.
   */
  startSession(spec: SessionSpec): Promise<StartedSession>;
  /** Ends the listed sessions and stops the control server. */
  stop(): Promise<void>;
}

/** A session {@linkcode PlatformRig.startSession} started. */
interface StartedSession {
  session: PlatformSession;
  /** The streamer's control connection. */
  claim: ControlConnection;
  streamer: ProcInfo;
}

/**
 * A work folder with a skeleton, a control server and a platform in
 * `accountMode` whose runtime and Deno directories are in the folder.
 */
async function setUpPlatform(
  accountMode: "system" | "current",
  runtimeName = "runtime",
): Promise<PlatformRig> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-platform-" });
  await Deno.chmod(dir, 0o755);
  const skeleton = `${dir}/skel`;
  await Deno.mkdir(`${skeleton}/Desktop`, { recursive: true });
  await Deno.writeTextFile(`${skeleton}/.bashrc`, "# webstream skel\n");
  await Deno.writeTextFile(`${skeleton}/Desktop/welcome.txt`, "hello\n");
  const runtimeDir = `${dir}/${runtimeName}`;
  const control = startControlServer();
  const { logger, lines: logs } = quietLogger();
  const platform = createLinuxPlatform({
    accountMode,
    runtimeDirectory: runtimeDir,
    denoDirectory: `${dir}/deno`,
    logger,
  });
  const sessions: PlatformSession[] = [];
  return {
    dir,
    skeleton,
    runtimeDir,
    control,
    platform,
    logs,
    sessions,
    async startSession(spec) {
      const session = await platform.startSession(spec);
      sessions.push(session);
      assertMatch(session.id, /^:\d+$/);
      const claim = await control.claimFrom(spec.account);
      assertEquals(claim.messages[0], `REQUEST_SESSION_INFO:${spec.account}`);
      const streamer = await findStreamer(spec.streamerPort);
      assert(streamer, "streamer process found");
      return { session, claim, streamer };
    },
    async stop() {
      for (const session of sessions) {
        await platform.endSession(session).catch(() => {});
      }
      await control.stop();
    },
  };
}

function spec(
  slot: number,
  account: string,
  controlUrl: string,
  licence?: StreamerLicence,
): SessionSpec {
  return {
    slot,
    account,
    streamerPort: freePort(),
    bindAddress: "127.0.0.1",
    controlUrl,
    screen: SCREEN,
    licence,
  };
}

/**
 * Licence check-in settings with a proof. The gateway URL is a closed
 * loopback port: no session is allocated, so nothing is ever sent there.
 */
function licenceFor(slot: number): StreamerLicence {
  return {
    gatewayUrl: `http://127.0.0.1:${freePort()}`,
    serverUrl: "http://127.0.0.1:9005",
    proof: `${slot}`.repeat(64).slice(0, 64),
  };
}

/** Asserts the streamer got its proof in its environment, never in argv. */
async function assertProofInEnvironment(
  streamer: ProcInfo,
  licence: StreamerLicence,
): Promise<void> {
  const args = streamer.argv;
  assertEquals(args[args.indexOf("-gateway-url") + 1], licence.gatewayUrl);
  assertEquals(args[args.indexOf("-server-url") + 1], licence.serverUrl);
  assert(
    !args.some((a) => a.includes(licence.proof!)),
    `the proof is on the command line: ${args.join(" ")}`,
  );
  const env = await environOf(streamer.pid);
  assertEquals(env.WEBSTREAM_LICENCE_PROOF, licence.proof);
}

// ------------------------------------------------------------ non-root ----

Deno.test("createLinuxPlatform: auto picks the mode from the user", () => {
  const { logger } = quietLogger();
  const platform = createLinuxPlatform({ accountMode: "auto", logger });
  assertEquals(platform.name, "linux");
  assertEquals(platform.accountMode, ROOT ? "system" : "current");
  assert(platform.capabilities.includes("xvfb"));
  assert(platform.capabilities.includes("desktop"));
});

Deno.test("startSession: refused before prepare()", async () => {
  const { logger } = quietLogger();
  const platform = createLinuxPlatform({
    accountMode: "current",
    runtimeDirectory: "/nonexistent/webstream-never-created",
    logger,
  });
  await assertRejects(
    () => platform.startSession(spec(1, "nobody1", "ws://127.0.0.1:1/control")),
    Error,
    /not prepared/,
  );
  assertEquals(await exists("/nonexistent/webstream-never-created"), false);
});

Deno.test({
  name: "prepare: system accounts need root",
  ignore: ROOT,
  async fn() {
    const { logger } = quietLogger();
    const platform = createLinuxPlatform({
      accountMode: "system",
      runtimeDirectory: "/nonexistent/webstream-never-created",
      logger,
    });
    await assertRejects(() => platform.prepare(), Error, /needs root/);
  },
});

// ------------------------------------------------------------- system -----

Deno.test({
  name: "LinuxPlatform (system accounts): pool users, sessions, hygiene",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prefix = testUsername();
    const accounts = [`${prefix}01`, `${prefix}02`];
    const stranger = `${prefix}99`;
    const rig = await setUpPlatform("system");
    const { dir, skeleton, runtimeDir, control, platform, sessions } = rig;
    const testSockets: WebSocket[] = [];
    try {
      await t.step("prepare()", async () => {
        assertEquals(platform.accountMode, "system");
        await platform.prepare();
        assertEquals((await Deno.stat(runtimeDir)).mode! & 0o777, 0o755);
        assert(await exists(`${runtimeDir}/sessions`));
        // Pool users get a shared Deno cache.
        assert(await exists(`${dir}/deno/npm`));
      });

      await t.step("ensureAccount creates real pool users", async () => {
        // Two at once: account work is serialised internally.
        await Promise.all(
          accounts.map((name) => platform.ensureAccount(name, "Pool-Passw0rd")),
        );
        for (const name of accounts) {
          const user = await lookupUser(name);
          assert(user, `${name} exists`);
          assertEquals(user.gecos, POOL_GECOS);
          assertNotEquals(user.uid, 0);
          assert((await Deno.stat(user.home)).isDirectory);
        }
      });

      await t.step(
        "ensureAccount of an existing pool user resets its password",
        async () => {
          const before = await shadowHash(accounts[0]);
          const uid = (await lookupUser(accounts[0]))!.uid;
          await platform.ensureAccount(accounts[0], "Other-Passw0rd");
          assertNotEquals(await shadowHash(accounts[0]), before);
          assertEquals((await lookupUser(accounts[0]))!.uid, uid);
        },
      );

      await t.step("rotatePassword changes the hash", async () => {
        const before = await shadowHash(accounts[0]);
        await platform.rotatePassword(accounts[0], "Rotated-Passw0rd");
        assertNotEquals(await shadowHash(accounts[0]), before);
      });

      await t.step(
        "a non-pool user of the same name is never adopted",
        async () => {
          const made = await runCommand("useradd", {
            args: ["--no-create-home", "--comment", "someone else", stranger],
          });
          assert(made.ok, made.stderr);
          const hash = await shadowHash(stranger);
          await assertRejects(
            () => platform.ensureAccount(stranger, "Pool-Passw0rd"),
            Error,
            /not a webstream pool account/,
          );
          await assertRejects(
            () => platform.removeAccount(stranger),
            Error,
            /not a webstream pool account/,
          );
          await assertRejects(
            () => platform.endAccountProcesses(stranger),
            Error,
            /not a webstream pool account/,
          );
          const still = await lookupUser(stranger);
          assertEquals(still?.gecos, "someone else");
          assertEquals(await shadowHash(stranger), hash);
        },
      );

      const account = accounts[0];
      const user = (await lookupUser(account))!;
      const first = spec(1, account, control.url, licenceFor(1));
      let session!: PlatformSession;
      let streamer!: ProcInfo;
      let xvfb!: ProcInfo;

      await t.step(
        "startSession starts Xvfb and a streamer as the user",
        async () => {
          ({ session, streamer } = await rig.startSession(first));
          assertEquals(session.slot, 1);
          assertEquals(session.account, account);
          assertEquals(streamer.uid, user.uid);
          xvfb = (await findXvfb(runtimeDir, account))!;
          assert(xvfb, "Xvfb process found");
          assertEquals(xvfb.uid, user.uid);

          // The streamer was started with the account's arguments.
          const args = streamer.argv;
          assertEquals(args[args.indexOf("-control") + 1], control.url);
          // It identifies by its OS user name, not by an argument.
          assertEquals(args.includes("-user"), false);
          assertEquals(args[args.indexOf("-bind") + 1], "127.0.0.1");
          assertEquals(
            await Deno.readLink(`/proc/${streamer.pid}/cwd`),
            user.home,
          );
          await assertProofInEnvironment(streamer, first.licence!);
        },
      );

      await t.step("the streamer's DISPLAY is a working display", async () => {
        const env = await environOf(streamer.pid);
        assertEquals(env.DISPLAY, session.id);
        assertEquals(env.HOME, user.home);
        assertEquals(env.USER, account);
        assertEquals(
          env.XAUTHORITY,
          `${runtimeDir}/sessions/${account}/Xauthority`,
        );
        // The pool user itself can use it.
        const info = await xdpyinfo(env.DISPLAY, env.XAUTHORITY, {
          uid: user.uid,
          gid: user.gid,
        });
        assert(info.ok, info.stderr);
        assertMatch(info.stdout, /dimensions:\s+800x600 pixels/);
        // The cookie file is the user's alone.
        const auth = await Deno.stat(env.XAUTHORITY);
        assertEquals(auth.uid, user.uid);
        assertEquals(auth.mode! & 0o777, 0o600);
      });

      await t.step("the session has its own sound server", async () => {
        const env = await environOf(streamer.pid);
        assertEquals(
          env.PULSE_SERVER,
          `unix:${runtimeDir}/sessions/${account}/pulse/native`,
        );
        const pulse = await findPulseAudio(runtimeDir, account);
        assertEquals(pulse?.uid, user.uid);
        // Its clients are the pool user's.
        const info = await runCommand("pactl", {
          args: [`--server=${env.PULSE_SERVER}`, "info"],
          uid: user.uid,
          gid: user.gid,
          env: { PATH: "/usr/bin:/bin", HOME: user.home },
          clearEnv: true,
        });
        assert(info.ok, info.stderr);
        assertMatch(info.stdout, /Default Sink: webstream\n/);
      });

      await t.step("listSessions lists it alive", async () => {
        assertEquals(await platform.listSessions(), [
          { id: session.id, account, alive: true },
        ]);
      });

      await t.step(
        "verifyStreamerPeer: true for the streamer, false for an impostor",
        async () => {
          const claim = await control.claimFrom(account);
          assertEquals(
            await platform.verifyStreamerPeer(account, claim.remote),
            true,
          );
          // Its connection to the control port, and no other.
          const serverPort = Number(new URL(control.url).port);
          assertEquals(
            await platform.verifyStreamerPeer(account, claim.remote, {
              serverPort,
            }),
            true,
          );
          assertEquals(
            await platform.verifyStreamerPeer(account, claim.remote, {
              serverPort: serverPort + 1,
            }),
            false,
          );
          // This (root) process claims the same account.
          const before = control.connections.length;
          testSockets.push(await claimAsTest(control.url, account));
          const impostor = await waitFor(
            () =>
              control.connections.slice(before).find((c) => c.messages.length),
            { what: "the test's own claim" },
          );
          assertEquals(impostor.messages, [`REQUEST_SESSION_INFO:${account}`]);
          assertEquals(
            await platform.verifyStreamerPeer(account, impostor.remote),
            false,
          );
          // The streamer does not verify as another account either.
          assertEquals(
            await platform.verifyStreamerPeer(accounts[1], claim.remote),
            false,
          );
          assertEquals(
            await platform.verifyStreamerPeer(`${prefix}nobody`, claim.remote),
            false,
          );
        },
      );

      await t.step(
        "the streamer serves its port once told its session",
        async () => {
          const claim = await control.claimFrom(account);
          claim.socket.send(
            `SESSION_INFO:${crypto.randomUUID()}|`,
          );
          const response = await waitFor(
            () =>
              fetch(`http://127.0.0.1:${first.streamerPort}/stream`).catch(
                () => undefined,
              ),
            { what: "the streamer to listen", timeoutMs: 30_000 },
          );
          // A plain request, not an upgrade.
          assertEquals(response.status, 426);
          await response.body?.cancel();
        },
      );

      await t.step(
        "endSession ends the streamer, Xvfb and every user process",
        async () => {
          // Something else the user left running in the session.
          const straggler = spawnQuiet("sleep", {
            args: ["300"],
            uid: user.uid,
            gid: user.gid,
            cwd: "/",
            detached: true,
          });
          await platform.endSession(session);
          assertEquals((await straggler.status).signal, "SIGKILL");
          assertMatch(await session.ended, /exited/);
          assertEquals(await alive(streamer.pid), false);
          assertEquals(await alive(xvfb.pid), false);
          assertEquals(await processesOfUser(user.uid), []);
          assertEquals(await platform.listSessions(), []);
          // Ending it again is harmless.
          await platform.endSession(session);
        },
      );

      await t.step(
        "a session whose Xvfb dies ends naming the display",
        async () => {
          const other = accounts[1];
          const second = spec(2, other, control.url);
          const dying = await platform.startSession(second);
          sessions.push(dying);
          await control.claimFrom(other);
          const server = (await findXvfb(runtimeDir, other))!;
          assert(server, "Xvfb process found");
          Deno.kill(server.pid, "SIGKILL");
          const reason = await dying.ended;
          assertEquals(reason, `display ${dying.id} exited (signal SIGKILL)`);
          assertEquals(await platform.listSessions(), [
            { id: dying.id, account: other, alive: false },
          ]);
          const otherUser = (await lookupUser(other))!;
          await platform.endSession(dying);
          assertEquals(await processesOfUser(otherUser.uid), []);
        },
      );

      await t.step(
        "endAccountProcesses ends what the account left running",
        async () => {
          const leftover = spawnQuiet("sh", {
            args: ["-c", "sleep 300 & sleep 300"],
            uid: user.uid,
            gid: user.gid,
            cwd: "/",
          });
          await waitFor(async () =>
            (await processesOfUser(user.uid)).length >= 2
          );
          await platform.endAccountProcesses(account);
          assertEquals((await leftover.status).signal, "SIGKILL");
          assertEquals(await processesOfUser(user.uid), []);
        },
      );

      await t.step(
        "cleanAccount rebuilds the home and applies restrictions",
        async () => {
          await Deno.writeTextFile(`${user.home}/.history`, "secret\n");
          await Deno.mkdir(`${user.home}/Documents/deep`, { recursive: true });
          // Something of the user's in the real /tmp (purgeTemp).
          const tmpFile = `/tmp/${account}-leftover-${crypto.randomUUID()}`;
          await Deno.writeTextFile(tmpFile, "x");
          await Deno.chown(tmpFile, user.uid, user.gid);
          const secret = `${dir}/secret.txt`;
          await Deno.writeTextFile(secret, "secret\n");
          await Deno.chmod(secret, 0o644);
          const hygiene: Hygiene = {
            profileCleanup: { enabled: true, skeleton, purgeTemp: true },
            filesystemRestrictions: [
              { path: secret, deny: ["read"], recursive: false },
              { path: `${dir}/missing`, deny: ["read"], recursive: false },
            ],
          };
          // Jobs the tenant scheduled (where cron and at are installed).
          const cron = (await runCommand("sh", {
            args: ["-c", "command -v crontab && command -v at"],
          })).ok;
          if (cron) {
            const crontab = await runCommand("sh", {
              args: ["-c", `echo '* * * * * true' | crontab -u ${account} -`],
            });
            assert(crontab.ok, crontab.stderr);
            const at = await runCommand("sh", {
              args: ["-c", "echo true | at now + 1 hour"],
              cwd: "/",
              uid: user.uid,
              gid: user.gid,
            });
            assert(at.ok, at.stderr);
          }
          let problems: string[];
          try {
            problems = await platform.cleanAccount(account, hygiene);
          } finally {
            await Deno.remove(tmpFile).catch(() => {});
          }
          if (cron) {
            const listed = await runCommand("crontab", {
              args: ["-l", "-u", account],
            });
            assertEquals(listed.ok, false, "the tenant's crontab survived");
            const queued = (await runCommand("atq", {})).stdout;
            assert(!queued.includes(account), "the tenant's at job survived");
          }
          assertEquals(problems.length, 1, problems.join("\n"));
          assert(problems[0].startsWith(`${dir}/missing: `), problems[0]);
          assertEquals(await exists(tmpFile), false);

          const entries = (await Array.fromAsync(Deno.readDir(user.home)))
            .map((e) => e.name).sort();
          assertEquals(entries, [".bashrc", "Desktop"]);
          const home = await Deno.stat(user.home);
          assertEquals([home.uid, home.gid], [user.uid, user.gid]);
          assertEquals(home.mode! & 0o777, 0o700);
          assertEquals(
            (await Deno.stat(`${user.home}/Desktop/welcome.txt`)).uid,
            user.uid,
          );
          // The restriction holds for the pool user.
          const asUser = await runCommand("cat", {
            args: [secret],
            cwd: "/",
            uid: user.uid,
            gid: user.gid,
          });
          assertEquals(asUser.ok, false);
          assertEquals(
            (await runCommand("cat", { args: [secret] })).stdout,
            "secret\n",
          );
        },
      );

      await t.step(
        "removeAccount deletes the user, its home and session state",
        async () => {
          for (const name of accounts) {
            const entry = (await lookupUser(name))!;
            await platform.removeAccount(name);
            assertEquals(await lookupUser(name), undefined);
            assertEquals(await exists(entry.home), false);
            assertEquals(await exists(`${runtimeDir}/sessions/${name}`), false);
          }
          // Removing a missing account is harmless.
          await platform.removeAccount(accounts[0]);
        },
      );
    } finally {
      for (const socket of testSockets) socket.close();
      await rig.stop();
      // Anything a failed step left: the test users' processes, by PID.
      for (const name of [...accounts, stranger]) {
        const user = await lookupUser(name);
        if (!user) continue;
        await killMatching((p) => p.uid === user.uid);
        await waitFor(async () => !(await processesOfUser(user.uid)).length, {
          timeoutMs: 10_000,
        }).catch(() => {});
        await runCommand("userdel", { args: ["--remove", name] });
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ------------------------------------------------------------- current ----

Deno.test({
  name: "LinuxPlatform (current user): homes under the runtime directory",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const account = `${testUsername()}01`;
    const rig = await setUpPlatform("current");
    const { dir, skeleton, runtimeDir, control, platform, sessions } = rig;
    const home = `${runtimeDir}/homes/${account}`;
    const spec1 = spec(1, account, control.url, licenceFor(1));
    const spec2 = spec(2, account, control.url);
    const specs = [spec1, spec2];
    try {
      await t.step(
        "prepare() and ensureAccount make a private home",
        async () => {
          assertEquals(platform.accountMode, "current");
          await platform.prepare();
          assertEquals(
            (await Deno.stat(`${runtimeDir}/sessions`)).mode! & 0o777,
            0o700,
          );
          // No shared cache and no OS account in current mode.
          assertEquals(await exists(`${dir}/deno`), false);
          await platform.ensureAccount(account, "Unused-Passw0rd");
          const info = await Deno.stat(home);
          assert(info.isDirectory);
          assertEquals(info.mode! & 0o777, 0o700);
          assertEquals(info.uid, Deno.uid());
          assertEquals(await lookupUser(account), undefined);
          // Password rotation has nothing to do.
          await platform.rotatePassword(account, "Other-Passw0rd");
        },
      );

      let session!: PlatformSession;
      let streamer!: ProcInfo;

      await t.step(
        "startSession runs the streamer as this user in the home",
        async () => {
          const started = await rig.startSession(spec1);
          ({ session, streamer } = started);
          assertEquals(streamer.uid, Deno.uid());
          // Slots share this user, so the account is named explicitly.
          const args = streamer.argv;
          assertEquals(args[args.indexOf("-user") + 1], account);
          assertEquals(await Deno.readLink(`/proc/${streamer.pid}/cwd`), home);
          const env = await environOf(streamer.pid);
          assertEquals(env.DISPLAY, session.id);
          assertEquals(env.HOME, home);
          // The own user keeps this process's Deno cache (no refetching).
          assertEquals(env.DENO_DIR, ownDenoDirectory());
          assertEquals(
            env.PULSE_SERVER,
            `unix:${runtimeDir}/sessions/${account}/pulse/native`,
          );
          await assertProofInEnvironment(streamer, spec1.licence!);
          const info = await xdpyinfo(env.DISPLAY, env.XAUTHORITY);
          assert(info.ok, info.stderr);
          assertMatch(info.stdout, /dimensions:\s+800x600 pixels/);
          // The peer check can only tell users apart, and this is one user.
          assertEquals(
            await platform.verifyStreamerPeer(account, started.claim.remote),
            true,
          );
          assertEquals(
            await platform.verifyStreamerPeer(
              account,
              { transport: "tcp", hostname: "127.0.0.3", port: 1 },
            ),
            false,
          );
        },
      );

      await t.step(
        "endSession ends the streamer, PulseAudio and Xvfb",
        async () => {
          const xvfb = (await findXvfb(runtimeDir, account))!;
          assert(xvfb, "Xvfb process found");
          const pulse = (await findPulseAudio(runtimeDir, account))!;
          assert(pulse, "PulseAudio process found");
          await platform.endSession(session);
          assertMatch(await session.ended, /exited/);
          assertEquals(await alive(streamer.pid), false);
          assertEquals(await alive(xvfb.pid), false);
          assertEquals(await alive(pulse.pid), false);
          assertEquals(await platform.listSessions(), []);
          // The control connection went with the streamer.
          const claim = await control.claimFrom(account);
          await waitFor(() => claim.socket.readyState === WebSocket.CLOSED, {
            what: "the streamer's control connection to close",
          });
        },
      );

      await t.step(
        "a session whose Xvfb dies ends naming the display",
        async () => {
          const dying = await platform.startSession(spec2);
          sessions.push(dying);
          const server = (await findXvfb(runtimeDir, account))!;
          assert(server, "Xvfb process found");
          Deno.kill(server.pid, "SIGKILL");
          assertEquals(
            await dying.ended,
            `display ${dying.id} exited (signal SIGKILL)`,
          );
          assertEquals(await platform.listSessions(), [
            { id: dying.id, account, alive: false },
          ]);
          await platform.endSession(dying);
          assertEquals(await platform.listSessions(), []);
        },
      );

      await t.step(
        "a later run ends what a crashed run left in the slot",
        async () => {
          const orphan = await rig.startSession(spec2);
          const xvfb = (await findXvfb(runtimeDir, account))!;
          assert(xvfb, "Xvfb process found");
          const pulse = (await findPulseAudio(runtimeDir, account))!;
          assert(pulse, "PulseAudio process found");
          // A fresh platform on the same runtime folder, as after a crash.
          const { logger } = quietLogger();
          const next = createLinuxPlatform({
            accountMode: "current",
            runtimeDirectory: runtimeDir,
            logger,
          });
          await next.endAccountProcesses(account);
          await waitFor(
            async () =>
              !(await alive(xvfb.pid)) && !(await alive(orphan.streamer.pid)) &&
              !(await alive(pulse.pid)),
            {
              what: "the orphaned session to end",
            },
          );
          assertMatch(await orphan.session.ended, /exited/);
          await platform.endSession(orphan.session);
        },
      );

      await t.step(
        "cleanAccount rebuilds the home; restrictions not applied",
        async () => {
          await Deno.writeTextFile(`${home}/.history`, "x");
          await Deno.mkdir(`${home}/a/b`, { recursive: true });
          const problems = await platform.cleanAccount(account, {
            profileCleanup: { enabled: true, skeleton, purgeTemp: true },
            filesystemRestrictions: [
              { path: `${dir}/secret`, deny: ["read"], recursive: false },
            ],
          });
          assertEquals(problems.length, 1);
          assertMatch(problems[0], /filesystemRestrictions .*not applied/);
          const entries = (await Array.fromAsync(Deno.readDir(home)))
            .map((e) => e.name).sort();
          assertEquals(entries, [".bashrc", "Desktop"]);
          assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);

          // Without restrictions there is nothing to report.
          assertEquals(
            await platform.cleanAccount(account, {
              profileCleanup: { enabled: true, skeleton, purgeTemp: false },
              filesystemRestrictions: [],
            }),
            [],
          );
        },
      );

      await t.step("removeAccount removes the home", async () => {
        await platform.removeAccount(account);
        assertEquals(await exists(home), false);
        await platform.removeAccount(account);
      });
    } finally {
      await rig.stop();
      // Anything a failed step left, by PID: Xvfb names this test's runtime
      // folder, a streamer one of this test's ports.
      const ports = specs.map((s) => String(s.streamerPort));
      await killMatching((p) =>
        p.argv.some((a) => a.includes(runtimeDir)) ||
        (p.argv.includes("streamer") &&
          ports.includes(p.argv[p.argv.indexOf("-port") + 1]))
      );
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a session whose PulseAudio cannot start still starts, without sound",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const account = `${testUsername()}02`;
    // A runtime folder so deep that no Unix socket path fits under it.
    const rig = await setUpPlatform("current", "r".repeat(90));
    const spec1 = spec(1, account, rig.control.url);
    try {
      await rig.platform.prepare();
      await rig.platform.ensureAccount(account, "Unused-Passw0rd");
      const { session, streamer } = await rig.startSession(spec1);
      const env = await environOf(streamer.pid);
      assertEquals(env.PULSE_SERVER, undefined);
      assertEquals(await findPulseAudio(rig.runtimeDir, account), undefined);
      const warnings = rig.logs.map((l) => JSON.parse(l)).filter((r) =>
        r.msg === "session has no sound: PulseAudio did not start"
      );
      assertEquals(warnings.length, 1);
      assertMatch(warnings[0].error, /socket path too long/);
      await rig.platform.endSession(session);
      assertEquals(await alive(streamer.pid), false);
    } finally {
      await rig.stop();
      const port = String(spec1.streamerPort);
      await killMatching((p) =>
        p.argv.some((a) => a.includes(rig.runtimeDir)) ||
        (p.argv.includes("streamer") && p.argv.includes(port))
      );
      await Deno.remove(rig.dir, { recursive: true });
    }
  },
});

Deno.test("prepare refuses a runtime folder others could tamper with", async () => {
  await withTempDir(async (dir) => {
    const { logger } = quietLogger();
    const cases: [string, () => Promise<void>, RegExp][] = [
      [`${dir}/open`, async () => {
        await Deno.mkdir(`${dir}/open`);
        await Deno.chmod(`${dir}/open`, 0o777);
      }, /is writable by others \(mode 777\)/],
      [`${dir}/link`, async () => {
        await Deno.mkdir(`${dir}/target`);
        await Deno.symlink(`${dir}/target`, `${dir}/link`);
      }, /is not a folder/],
    ];
    for (const [runtimeDirectory, make, reason] of cases) {
      await make();
      const platform = createLinuxPlatform({
        accountMode: "current",
        runtimeDirectory,
        denoDirectory: `${dir}/deno`,
        logger,
      });
      await assertRejects(() => platform.prepare(), Error, reason);
    }
  });
});

Deno.test({
  name:
    "SessionRecovery (current user): streamer restart, records, adoption by a later run, ending a record",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const rig = await setUpPlatform("current");
    const { platform, runtimeDir, control } = rig;
    const account = `${testUsername()}01`;
    const later = createLinuxPlatform({
      accountMode: "current",
      runtimeDirectory: runtimeDir,
      logger: quietLogger().logger,
    });
    try {
      await platform.prepare();
      await later.prepare();
      await platform.ensureAccount(account, "Test-Passw0rd");
      const recovery = platform.recovery!;
      assert(recovery, "the Linux platform has recovery");
      assertEquals(recovery.stateDirectory, `${runtimeDir}/state`);
      assertEquals(
        (await Deno.stat(recovery.stateDirectory)).mode! & 0o777,
        0o700,
      );
      const s = { ...spec(1, account, control.url), orphanTimeout: 77 };
      const { session, streamer } = await rig.startSession(s);
      assertEquals(
        streamer.argv.slice(streamer.argv.indexOf("-orphan-timeout")),
        ["-orphan-timeout", "77"],
      );
      const xvfb = (await findXvfb(runtimeDir, account))!;

      await t.step(
        "a dead streamer is reported apart from the session",
        async () => {
          Deno.kill(streamer.pid, "SIGKILL");
          assertMatch(
            await recovery.streamer(session).exited,
            /streamer exited \(signal SIGKILL\)/,
          );
          assert(await alive(xvfb.pid), "the display lives on");
          assertEquals((await platform.listSessions())[0].alive, true);
        },
      );

      let record: unknown;
      await t.step("a new streamer starts in the same session", async () => {
        const before = control.connections.length;
        const next = await recovery.restartStreamer(session, s);
        await waitFor(() => control.connections.length > before);
        const found = (await findStreamer(s.streamerPort))!;
        assert(found && found.pid !== streamer.pid, "a new streamer");
        const env = await environOf(found.pid);
        assertEquals(env.DISPLAY, session.id);
        assertEquals(
          env.XAUTHORITY,
          `${runtimeDir}/sessions/${account}/Xauthority`,
        );
        record = recovery.describe(session);
        assertEquals(
          (record as { streamer: { pid: number } }).streamer.pid,
          found.pid,
        );
        assertEquals((record as { display: string }).display, session.id);
        // Stopping it, a restart reports it exited.
        Deno.kill(found.pid, "SIGTERM");
        assertMatch(await next.exited, /streamer exited/);
      });

      await t.step(
        "a later run adopts the session from its record",
        async () => {
          const adoption = await later.recovery!.adopt(record, s);
          assert(adoption.ok, adoption.ok ? "" : adoption.reason);
          assertEquals(adoption.session.id, session.id);
          assertEquals(adoption.streamerAlive, false);
          // Another account's record is not taken.
          const foreign = await later.recovery!.adopt(record, {
            ...s,
            account: `${account}x`,
          });
          assert(!foreign.ok);
          const bad = await later.recovery!.adopt({ version: 9 }, s);
          assert(!bad.ok && /version/.test(bad.reason));
          // The adopted display's death is seen through /proc.
          await later.endSession(adoption.session);
          assertMatch(await adoption.session.ended, /display :\d+ exited/);
          assertEquals(await alive(xvfb.pid), false);
          const gone = await later.recovery!.adopt(record, s);
          assertEquals(gone, {
            ok: false,
            reason: `display ${session.id} has exited`,
          });
        },
      );

      await t.step("endRecorded ends what a record names", async () => {
        const again = await rig.startSession({
          ...s,
          streamerPort: freePort(),
        });
        const xvfb2 = (await findXvfb(runtimeDir, account))!;
        const described = recovery.describe(again.session);
        await later.recovery!.endRecorded(described, account);
        for (const pid of [xvfb2.pid, again.streamer.pid]) {
          await waitFor(async () => !(await alive(pid)), {
            what: `process ${pid} to end`,
          });
        }
      });
    } finally {
      await rig.stop();
      await killMatching((p) => p.argv.some((a) => a.includes(runtimeDir)));
      await Deno.remove(rig.dir, { recursive: true });
    }
  },
});
