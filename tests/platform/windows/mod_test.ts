/**
 * Tests for the Windows platform (`mod/platform/windows/mod.ts`) against the
 * fake Windows machine, with real RDP client processes (the stand-in reads
 * the password from its standard input, the machine plays the RDP server):
 * the whole life cycle of a slot, the password kept off every command line
 * and log line, refusing a non-pool user and accountMode `current`, a dying
 * RDP client or streamer or a vanished WTS session ending the session, the
 * logon timeout, idempotent accounts and restrictions, registry restore for
 * kept profiles, failing logoffs and profile deletions, leftovers from an
 * earlier run, two accounts at once, the real session pool driving it, and
 * the kill-on-close job every RDP client is put in at once (a crash of the
 * service kills them; a client that cannot be put there is stopped).
 *
 * @module
 */
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { parseConfig } from "../../../mod/config/mod.ts";
import { SessionPool } from "../../../mod/pool/mod.ts";
import type {
  Hygiene,
  Platform,
  SessionSpec,
} from "../../../mod/platform/types.ts";
import {
  DENY_MASKS,
  NO_INHERITANCE,
  SUB_CONTAINERS_AND_OBJECTS_INHERIT,
} from "../../../ffi/windows/advapi32.ts";
import {
  REMOTE_DESKTOP_USERS_SID,
  UF_ACCOUNTDISABLE,
  UF_LOCKOUT,
} from "../../../ffi/windows/netapi32.ts";
import { PLATFORM_PRIVILEGES } from "../../../mod/platform/windows/api.ts";
import { rdpLaunch } from "../../../mod/platform/windows/rdp_client.ts";
import { localComputerName } from "../../../mod/platform/windows/environment.ts";
import {
  createWindowsPlatform,
  POOL_COMMENT,
  POOL_FLAGS,
  type WindowsPlatformOptions,
} from "../../../mod/platform/windows/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import { type CapturedLogs, captureLogs } from "../../support/log.ts";
import { FakeStreamer } from "../../support/scripted_platform.ts";
import { waitFor } from "../../support/wait.ts";
import {
  type FakeMachineOptions,
  FakeWindowsMachine,
  standInRdpClient,
} from "../../support/windows/fake_machine.ts";

const PASSWORD = "Pool-Passw0rd-s3cret";
const STREAMER = {
  command: "C:\\Program Files\\webstream\\webstream.exe",
  prefix: [],
  compiled: true,
};
const CONTROL_URL = "ws://127.0.0.1:9005/control";

function spec(slot: number): SessionSpec {
  return {
    slot,
    account: `webs0${slot}`,
    streamerPort: 9000 + slot * 10,
    bindAddress: "127.0.0.1",
    controlUrl: CONTROL_URL,
    screen: { width: 800, height: 600, depth: 24 },
    licence: {
      gatewayUrl: "https://gateway.example:9000",
      serverUrl: "http://10.0.0.5:9005",
      proof: `licence-proof-${slot}`,
    },
    reporting: {
      metrics: { enabled: true, interval: 60, report: ["fps"] },
      activityLogging: { enabled: false, events: [] },
    },
  };
}

function hygiene(
  restrictions: Hygiene["filesystemRestrictions"] = [],
  keepProfile = false,
): Hygiene {
  return {
    profileCleanup: {
      enabled: !keepProfile,
      skeleton: "/etc/skel",
      purgeTemp: true,
    },
    filesystemRestrictions: restrictions,
  };
}

interface World {
  machine: FakeWindowsMachine;
  platform: Platform;
  logs: CapturedLogs;
}

/** A prepared platform on a fresh fake machine; everything is stopped afterwards. */
async function withWindows(
  fn: (world: World) => Promise<void>,
  options: Partial<WindowsPlatformOptions> & {
    machine?: FakeMachineOptions;
    prepare?: boolean;
  } = {},
): Promise<void> {
  const machine = new FakeWindowsMachine(options.machine);
  const logs = captureLogs("debug");
  const dir = await Deno.makeTempDir({ prefix: "webstream-windows-" });
  const platform = createWindowsPlatform({
    api: machine.api,
    accountMode: "auto",
    runtimeDirectory: dir,
    logger: logs.logger,
    rdpClient: standInRdpClient(),
    launcher: machine.rdpLauncher,
    streamerCommand: STREAMER,
    pollIntervalMs: 20,
    logonTimeoutMs: 20_000,
    logoffTimeoutMs: 5_000,
    ...options,
  });
  try {
    if (options.prepare !== false) await platform.prepare();
    await fn({ machine, platform, logs });
  } finally {
    await machine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every command line and log line the test can see, as one text. */
function everythingVisible(machine: FakeWindowsMachine, logs: CapturedLogs) {
  return JSON.stringify([
    machine.launches.map((l) => [l.command, ...l.args]),
    machine.clientCmdlines(),
    [...machine.processes.values()].map((p) => [p.argv, p.commandLine]),
    logs.records,
  ]);
}

Deno.test("life cycle: account, session, logoff, hygiene, removal", async () => {
  await withWindows(async ({ machine, platform, logs }) => {
    assertEquals(platform.name, "windows");
    assertEquals(platform.accountMode, "system");
    assert(platform.capabilities.includes("windows"));
    assert(platform.capabilities.includes("rdp"));
    assertEquals(machine.calls.slice(0, 2), ["enablePrivileges", "groupName"]);

    // The account: created with the marker, allowed to use Remote Desktop
    // through the group found by its SID under its German name.
    await platform.ensureAccount("webs01", PASSWORD);
    const user = machine.user("webs01")!;
    assertEquals(user.comment, POOL_COMMENT);
    assertEquals(user.flags, POOL_FLAGS);
    assertEquals(user.password, PASSWORD);
    const rdu = machine.groups.get(REMOTE_DESKTOP_USERS_SID)!;
    assertEquals(rdu.name, "Remotedesktopbenutzer");
    assert(rdu.members.has(user.sid));

    // The session: a loopback RDP logon, then the streamer as the user in
    // that WTS session, with the licence proof in its environment only.
    const session = await platform.startSession(spec(1));
    assertEquals(session.account, "webs01");
    assertEquals(session.slot, 1);
    const wts = machine.sessions.get(Number(session.id))!;
    assertEquals([wts.user, wts.state], ["webs01", "active"]);
    assertEquals(machine.logons, [
      { server: "127.0.0.2", user: "webs01", ok: true },
    ]);
    const [launch] = machine.launches;
    assertEquals(launch.args.slice(-9), [
      "/v:127.0.0.2",
      "/u:webs01",
      `/d:${localComputerName()}`,
      "/from-stdin:force",
      "/cert:ignore",
      "/size:800x600",
      "/bpp:32",
      "-clipboard",
      "+auto-reconnect",
    ]);
    assertEquals(launch.stdin, `${PASSWORD}\n`);
    const [streamer] = machine.processesIn(wts.id);
    assertEquals(streamer.user, "webs01");
    assertEquals(streamer.argv, [
      STREAMER.command,
      "streamer",
      "-control",
      CONTROL_URL,
      "-port",
      "9010",
      "-bind",
      "127.0.0.1",
      "-gateway-url",
      "https://gateway.example:9000",
      "-server-url",
      "http://10.0.0.5:9005",
      "-reporting",
      JSON.stringify(spec(1).reporting),
    ]);
    assertMatch(
      streamer.commandLine,
      /^"C:\\Program Files\\webstream\\webstream\.exe" streamer -control /,
    );
    assert(streamer.env.includes("WEBSTREAM_LICENCE_PROOF=licence-proof-1"));
    assert(!streamer.commandLine.includes("licence-proof-1"));
    assertEquals(machine.openTokens.size, 0, "the user token is closed");
    assertEquals(await platform.listSessions(), [
      { id: session.id, account: "webs01", alive: true },
    ]);

    // Only the account's own processes pass the control-channel check.
    const [clientPid] = machine.runningClients();
    machine.tcp.set("127.0.0.1:50001", streamer.pid);
    machine.tcp.set("127.0.0.1:50002", clientPid);
    const peer = (port: number): Deno.NetAddr => ({
      transport: "tcp",
      hostname: "127.0.0.1",
      port,
    });
    assertEquals(
      await platform.verifyStreamerPeer("webs01", peer(50001)),
      true,
    );
    assertEquals(
      await platform.verifyStreamerPeer("webs02", peer(50001)),
      false,
    );
    assertEquals(
      await platform.verifyStreamerPeer("webs01", peer(50002)),
      false,
    );
    assertEquals(
      await platform.verifyStreamerPeer("webs01", peer(50003)),
      false,
    );

    // The password reached the client over stdin only.
    const cmdline = machine.clientCmdline(clientPid);
    assert(cmdline?.includes("/u:webs01"), "the client's real command line");
    assert(!cmdline!.join(" ").includes(PASSWORD));

    // Logoff: the WTS session, the streamer and the client are all gone.
    await platform.endSession(session);
    assertEquals(machine.sessions.has(wts.id), false);
    assertEquals(machine.processes.get(streamer.pid)!.exitCode, 1);
    assertEquals(machine.runningClients(), []);
    assertEquals(await platform.listSessions(), []);

    // Hygiene: the profile is purged, the restrictions become DENY ACEs.
    machine.addPath("C:\\Secret");
    machine.addPath("C:\\Tools\\cmd.exe");
    assert(machine.profileOf("webs01"), "the logon created a profile");
    const problems = await platform.cleanAccount(
      "webs01",
      hygiene([
        {
          path: "C:\\Secret",
          deny: ["read", "write", "execute"],
          recursive: true,
        },
        { path: "C:\\Tools\\cmd.exe", deny: ["execute"], recursive: false },
      ]),
    );
    assertEquals(problems, []);
    assertEquals(machine.profileOf("webs01"), undefined);
    assertEquals(machine.acesOf("C:\\Secret"), [{
      type: "deny",
      sid: user.sid,
      mask: DENY_MASKS.read | DENY_MASKS.write | DENY_MASKS.execute,
      inheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    }]);
    assertEquals(machine.acesOf("C:\\Tools\\cmd.exe"), [{
      type: "deny",
      sid: user.sid,
      mask: DENY_MASKS.execute,
      inheritance: NO_INHERITANCE,
    }]);

    await platform.rotatePassword("webs01", "Next-Passw0rd-2");
    assertEquals(machine.user("webs01")!.password, "Next-Passw0rd-2");

    // Removal takes the account's ACEs, profile and account away.
    await platform.removeAccount("webs01");
    assertEquals(machine.user("webs01"), undefined);
    assertEquals(machine.acesOf("C:\\Secret"), []);
    assertEquals(machine.acesOf("C:\\Tools\\cmd.exe"), []);
    assertEquals(rdu.members.size, 0);
    await platform.removeAccount("webs01"); // gone already: nothing to do

    const visible = everythingVisible(machine, logs);
    assert(!visible.includes(PASSWORD), "no password in argv or logs");
    assert(!visible.includes("Next-Passw0rd-2"));
    assert(logs.records.some((r) => r.msg === "created pool account"));
  });
});

Deno.test("prepare: needs LocalSystem's privileges", async () => {
  await withWindows(async ({ platform, machine }) => {
    await assertRejects(
      () => platform.prepare(),
      Error,
      /LocalSystem.*AdjustTokenPrivileges failed: ERROR_NOT_ALL_ASSIGNED/,
    );
    assertEquals(machine.calls, ["enablePrivileges"]);
    await assertRejects(
      () => platform.ensureAccount("webs01", PASSWORD),
      Error,
      /not prepared/,
    );
  }, { prepare: false, machine: { privileges: PLATFORM_PRIVILEGES.slice(1) } });
});

Deno.test("prepare: a missing RDP client path is named", async () => {
  await withWindows(async ({ platform }) => {
    await assertRejects(
      () => platform.prepare(),
      Error,
      /RDP client \/nonexistent\/wfreerdp\.exe does not exist/,
    );
  }, {
    prepare: false,
    rdpClient: { command: "/nonexistent/wfreerdp.exe", args: [], stdin: "" },
  });
});

Deno.test("prepare: the runtime folder is created and restricted to SYSTEM and Administrators", async () => {
  const base = await Deno.makeTempDir({ prefix: "webstream-windows-" });
  const runtime = `${base}/ProgramData/webstream`;
  try {
    await withWindows(async ({ machine, platform }) => {
      assertEquals(machine.protectedFolders, []);
      await platform.prepare();
      assert(Deno.statSync(runtime).isDirectory, "created first");
      assertEquals(machine.protectedFolders, [runtime]);
      assertEquals(machine.calls.slice(0, 3), [
        "enablePrivileges",
        "groupName",
        "protectFolder",
      ]);
    }, { prepare: false, runtimeDirectory: runtime });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("prepare: creates one job object, kept across a second prepare", async () => {
  await withWindows(async ({ machine, platform }) => {
    assertEquals(machine.calls.slice(0, 4), [
      "enablePrivileges",
      "groupName",
      "protectFolder",
      "createProcessJob",
    ]);
    await platform.prepare();
    assertEquals(machine.jobs.length, 1);
    assertEquals(machine.jobs[0].closed, false);
  });
});

Deno.test("prepare: a job object that cannot be created fails it", async () => {
  await withWindows(async ({ machine, platform }) => {
    machine.failNext(
      "createProcessJob",
      new Win32Error("CreateJobObjectW", 8),
    );
    await assertRejects(
      () => platform.prepare(),
      Error,
      /could not create the job object that ends the RDP clients with the service: CreateJobObjectW failed: ERROR_NOT_ENOUGH_MEMORY \(8\)/,
    );
    await assertRejects(
      () => platform.ensureAccount("webs01", PASSWORD),
      Error,
      /not prepared/,
    );
    await platform.prepare(); // a retry that succeeds
    assertEquals(machine.jobs.length, 1);
  }, { prepare: false });
});

Deno.test("prepare: a runtime folder that cannot be restricted fails it, naming the folder", async () => {
  await withWindows(async ({ machine, platform }) => {
    machine.failNext(
      "protectFolder",
      new Win32Error("SetNamedSecurityInfoW", 5),
    );
    await assertRejects(
      () => platform.prepare(),
      Error,
      /could not restrict the runtime folder .*webstream-windows-.* to SYSTEM and Administrators: SetNamedSecurityInfoW failed: ERROR_ACCESS_DENIED \(5\)/,
    );
    await assertRejects(
      () => platform.ensureAccount("webs01", PASSWORD),
      Error,
      /not prepared/,
    );
    await platform.prepare(); // a retry that succeeds
    assertEquals(machine.protectedFolders.length, 1);
  }, { prepare: false });
});

Deno.test("accountMode current is refused: every slot needs its own account", () => {
  const machine = new FakeWindowsMachine();
  assertThrows(
    () =>
      createWindowsPlatform({
        api: machine.api,
        accountMode: "current",
        logger: captureLogs().logger,
      }),
    Error,
    /"current" is not possible on Windows.*own account/,
  );
});

Deno.test("ensureAccount refuses a user that is not a pool account", async () => {
  await withWindows(async ({ machine, platform }) => {
    const jane = machine.addForeignUser("webs01", "Jane Doe, accounting");
    await assertRejects(
      () => platform.ensureAccount("webs01", PASSWORD),
      Error,
      /user webs01 exists and is not a webstream pool account \(comment "Jane Doe, accounting"\)/,
    );
    await assertRejects(
      () => platform.removeAccount("webs01"),
      Error,
      /not a webstream pool account/,
    );
    assertEquals(machine.user("webs01"), jane);
    assertEquals(jane.password, "Foreign-Passw0rd");
    assertEquals(
      machine.calls.filter((c) =>
        ["setPassword", "deleteUser", "addToGroup"].includes(c)
      ),
      [],
    );
  });
});

Deno.test("ensureAccount is idempotent and repairs a disabled or locked account", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const user = machine.user("webs01")!;
    user.flags |= UF_ACCOUNTDISABLE | UF_LOCKOUT;
    await platform.ensureAccount("webs01", "Second-Passw0rd");
    assertEquals(machine.user("webs01"), user, "the same account, same SID");
    assertEquals(user.flags, POOL_FLAGS);
    assertEquals(user.password, "Second-Passw0rd");
    assertEquals(machine.calls.filter((c) => c === "addUser").length, 1);
    assertEquals(machine.groups.get(REMOTE_DESKTOP_USERS_SID)!.members.size, 1);
    // The second password is the one the logon uses.
    const session = await platform.startSession(spec(1));
    await platform.endSession(session);
    assertEquals(machine.logons.map((l) => l.ok), [true]);
  });
});

Deno.test("ensureAccount validates names and makes passwords complex enough", async () => {
  await withWindows(async ({ machine, platform, logs }) => {
    await assertRejects(
      () => platform.ensureAccount("w".repeat(21), PASSWORD),
      Error,
      /must have 1 to 20 characters/,
    );
    await assertRejects(
      () => platform.ensureAccount("web/s01", PASSWORD),
      Error,
      /not a valid Windows user name/,
    );
    await assertRejects(
      () => platform.ensureAccount("webs01", "two\nlines-Passw0rd"),
      Error,
      /line break/,
    );
    // Windows' complexity rule would refuse this one as it is.
    await platform.ensureAccount("webs01", "onlylowercaseletters");
    assertEquals(machine.user("webs01")!.password, "onlylowercaseletters-Aa1");
    assert(logs.records.some((r) => /complexity/.test(String(r.msg))));
    const session = await platform.startSession(spec(1));
    await platform.endSession(session);
    assertEquals(machine.logons.map((l) => l.ok), [true]);
    assert(!JSON.stringify(logs.records).includes("onlylowercaseletters"));
  });
});

Deno.test("a dying RDP client ends the session with a reason", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    const [clientPid] = machine.runningClients();
    Deno.kill(clientPid, "SIGKILL");
    assertMatch(await session.ended, /^RDP client exited \(signal SIGKILL\)$/);
    assertEquals(await platform.listSessions(), [
      { id: session.id, account: "webs01", alive: false },
    ]);
    // The session lives on, disconnected, until endSession logs it off.
    assertEquals(
      machine.sessions.get(Number(session.id))!.state,
      "disconnected",
    );
    await platform.endSession(session);
    assertEquals(machine.sessions.has(Number(session.id)), false);
    assertEquals(machine.processesIn(Number(session.id)), []);
  });
});

Deno.test("a streamer that exits ends the session", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    const [streamer] = machine.processesIn(Number(session.id));
    machine.exitProcess(streamer.pid, 3);
    assertEquals(await session.ended, "streamer exited (code 3)");
    await platform.endSession(session);
    assertEquals(machine.runningClients(), []);
  });
});

Deno.test("a WTS session that vanishes ends the session", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    machine.sessions.delete(Number(session.id));
    assertEquals(
      await session.ended,
      `WTS session ${session.id} of webs01 was logged off`,
    );
    await platform.endSession(session);
    assertEquals(machine.runningClients(), []);
  });
});

Deno.test("a logon that never comes times out with a clear error", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    machine.resetPassword("webs01", "Changed-Elsewhere-1");
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /webs01 was not logged on within 0\.5 s: no active Remote Desktop session appeared \(wrong password/,
    );
    assertEquals(machine.logons, [
      { server: "127.0.0.2", user: "webs01", ok: false },
    ]);
    assertEquals(machine.runningClients(), [], "the client was stopped");
    assertEquals(await platform.listSessions(), []);
  }, { logonTimeoutMs: 500 });
});

Deno.test("an RDP client that exits before the logon fails the start at once", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /RDP client for webs01 exited before the logon \(code 131\); its last output: connection refused by \[redacted\]/,
    );
    assertEquals(machine.sessions.size, 3, "only the system's own sessions");
  }, {
    rdpClient: {
      command: Deno.execPath(),
      args: [
        "eval",
        "const b = new Uint8Array(256); const n = await Deno.stdin.read(b);" +
        "const p = new TextDecoder().decode(b.subarray(0, n ?? 0)).trim();" +
        "console.error('connection refused by ' + p); Deno.exit(131);",
      ],
      stdin: "{password}\n",
    },
  });
});

Deno.test("ERROR_NO_TOKEN right after the logon is waited out", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    machine.failNext("userToken", new Win32Error("WTSQueryUserToken", 1008));
    const session = await platform.startSession(spec(1));
    assertEquals(machine.calls.filter((c) => c === "userToken").length, 2);
    assertEquals(machine.processesIn(Number(session.id)).length, 1);
    await platform.endSession(session);
  });
});

Deno.test("a user token failing with any code right after the logon is waited out", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    // ERROR_NO_TOKEN as it may really be read: overwritten (0), not
    // readable at all, or some other error.
    machine.failNext("userToken", new Win32Error("WTSQueryUserToken", 0));
    machine.failNext(
      "userToken",
      new Win32Error("WTSQueryUserToken", undefined),
    );
    machine.failNext("userToken", new Error("token not ready"));
    const session = await platform.startSession(spec(1));
    assertEquals(machine.calls.filter((c) => c === "userToken").length, 4);
    assertEquals(machine.processesIn(Number(session.id)).length, 1);
    await platform.endSession(session);
  });
});

Deno.test("a user token that never comes fails the start after tokenTimeoutMs, logging the last error", async () => {
  await withWindows(async ({ machine, platform, logs }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    for (let i = 0; i < 500; i++) {
      machine.failNext(
        "userToken",
        new Win32Error("WTSQueryUserToken", i % 2 ? 1008 : 0),
      );
    }
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /starting the streamer in WTS session \d+ of webs01 failed: WTSQueryUserToken failed: ERROR_(SUCCESS|NO_TOKEN)/,
    );
    const tries = machine.calls.filter((c) => c === "userToken").length;
    assert(tries >= 2 && tries < 500, `bounded retries (${tries})`);
    const gaveUp = logs.records.find((r) =>
      r.msg === "no user token for the new session; giving up"
    );
    assertEquals(gaveUp?.account, "webs01");
    assertEquals(gaveUp?.attempts, tries);
    assertMatch(
      JSON.stringify(gaveUp?.error),
      /WTSQueryUserToken failed/,
    );
    // The failed start logged the session off again.
    assertEquals(
      [...machine.sessions.values()].filter((s) => s.user === "webs01"),
      [],
    );
  }, { tokenTimeoutMs: 150 });
});

Deno.test("a streamer that cannot start logs the session off again", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    machine.failNext(
      "startProcessAsUser",
      new Win32Error("CreateProcessAsUserW", 5),
    );
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /starting the streamer in WTS session \d+ of webs01 failed: CreateProcessAsUserW failed: ERROR_ACCESS_DENIED/,
    );
    assertEquals(
      [...machine.sessions.values()].filter((s) => s.user === "webs01"),
      [],
    );
    assertEquals(machine.runningClients(), []);
    assertEquals(machine.openTokens.size, 0);
  });
});

Deno.test("a failing logoff rejects endSession, and a retry completes it", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    machine.failNext("logoff", new Win32Error("WTSLogoffSession", 5));
    await assertRejects(
      () => platform.endSession(session),
      Error,
      /WTSLogoffSession failed: ERROR_ACCESS_DENIED/,
    );
    assertEquals(machine.runningClients(), [], "the client is stopped anyway");
    assertEquals(machine.sessions.get(Number(session.id))?.user, "webs01");
    assertEquals((await platform.listSessions()).length, 1);
    await platform.endSession(session);
    assertEquals(machine.sessions.has(Number(session.id)), false);
    assertEquals(await platform.listSessions(), []);
  });
});

Deno.test("restrictions: idempotent, narrowed in place, problems reported per path", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const sid = machine.user("webs01")!.sid;
    machine.addPath("C:\\Secret");
    machine.addPath("D:\\Share");
    const all = [
      { path: "C:\\Secret", deny: ["read", "write"] as const, recursive: true },
      { path: "C:\\Missing", deny: ["read"] as const, recursive: false },
      { path: "relative\\path", deny: ["read"] as const, recursive: false },
      { path: "D:\\Share", deny: ["write"] as const, recursive: false },
    ].map((r) => ({ ...r, deny: [...r.deny] }));
    for (let round = 0; round < 2; round++) {
      assertEquals(await platform.cleanAccount("webs01", hygiene(all)), [
        "C:\\Missing: GetNamedSecurityInfoW failed: ERROR_FILE_NOT_FOUND (2)",
        "relative\\path: not an absolute Windows path (C:\\… or \\\\server\\share\\…)",
      ]);
      assertEquals(machine.acesOf("C:\\Secret").length, 1);
      assertEquals(machine.acesOf("D:\\Share").length, 1);
    }
    await platform.cleanAccount(
      "webs01",
      hygiene([{ path: "C:\\Secret", deny: ["execute"], recursive: false }]),
    );
    assertEquals(machine.acesOf("C:\\Secret"), [{
      type: "deny",
      sid,
      mask: DENY_MASKS.execute,
      inheritance: NO_INHERITANCE,
    }]);
  });
});

Deno.test("a kept profile gets its registry restored, hive loaded and unloaded", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    const run = "Software\\Microsoft\\Windows\\CurrentVersion\\Run";
    machine.tenantSetsRegistry("webs01", run, "evil.exe");
    machine.tenantSetsRegistry("webs01", "Environment", "PATH");
    await platform.endSession(session);
    assertEquals(await platform.cleanAccount("webs01", hygiene([], true)), []);
    const profile = machine.profileOf("webs01")!;
    assertEquals(profile.hive.has(run.toLowerCase()), false);
    assertEquals(
      [...profile.hive.get("environment")!.keys()].sort(),
      ["TEMP", "TMP"],
    );
    assertEquals([profile.loads, profile.unloads], [1, 1]);
    assertEquals(machine.calls.includes("deleteProfile"), false);
  });
});

Deno.test("a profile that cannot be deleted fails cleanAccount", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    const session = await platform.startSession(spec(1));
    await platform.endSession(session);
    machine.failNext("deleteProfile", new Win32Error("DeleteProfileW", 32));
    await assertRejects(
      () => platform.cleanAccount("webs01", hygiene()),
      Error,
      /the profile of webs01 could not be deleted: DeleteProfileW failed: ERROR_SHARING_VIOLATION/,
    );
    assert(machine.profileOf("webs01"));
  });
});

Deno.test("sessions left from an earlier run are logged off", async () => {
  await withWindows(async ({ machine, platform }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    machine.sessions.set(7, {
      id: 7,
      station: "RDP-Tcp#7",
      state: "disconnected",
      user: "WEBS01",
    });
    await platform.endAccountProcesses("webs02");
    assert(machine.sessions.has(7), "other accounts' sessions stay");
    await platform.endAccountProcesses("webs01");
    assertEquals(machine.sessions.has(7), false);

    // startSession too: the new logon must not reconnect to an old session.
    machine.sessions.set(8, {
      id: 8,
      station: "RDP-Tcp#8",
      state: "disconnected",
      user: "webs01",
    });
    const session = await platform.startSession(spec(1));
    assertEquals(machine.sessions.has(8), false);
    assert(session.id !== "8");
    await platform.endSession(session);
  });
});

Deno.test("two accounts start and end sessions at the same time", async () => {
  await withWindows(async ({ machine, platform }) => {
    await Promise.all([
      platform.ensureAccount("webs01", PASSWORD),
      platform.ensureAccount("webs02", "Other-Passw0rd-2"),
    ]);
    const [one, two] = await Promise.all([
      platform.startSession(spec(1)),
      platform.startSession(spec(2)),
    ]);
    assert(one.id !== two.id);
    for (const [session, port] of [[one, "9010"], [two, "9020"]] as const) {
      const [streamer] = machine.processesIn(Number(session.id));
      assertEquals(streamer.user, session.account);
      assertEquals(streamer.argv[5], port);
    }
    assertEquals(
      (await platform.listSessions()).map((s) => s.account).sort(),
      ["webs01", "webs02"],
    );
    await Promise.all([platform.endSession(one), platform.endSession(two)]);
    assertEquals(
      [...machine.sessions.values()].filter((s) => s.user !== ""),
      [],
    );
    assertEquals(machine.runningClients(), []);
  });
});

Deno.test("startSession needs a known password and a prepared platform", async () => {
  await withWindows(async ({ platform }) => {
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /no password known for pool account webs01/,
    );
  });
  await withWindows(async ({ platform }) => {
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /not prepared/,
    );
  }, { prepare: false });
});

Deno.test("the session pool drives the Windows platform through a slot's life", async () => {
  await withWindows(async ({ machine, platform }) => {
    machine.addPath("C:\\Secret");
    const config = parseConfig({
      webstreamSettings: {
        serverMaxSessionCount: 1,
        warmSessionCount: 1,
        provisioningTimeout: 20,
      },
      filesystemRestrictions: [{ path: "C:\\Secret" }],
    }, { env: {} });
    const pool = new SessionPool({
      config,
      platform,
      controlUrl: CONTROL_URL,
      bindAddress: "127.0.0.1",
      logger: captureLogs().logger,
    });
    await pool.start();
    const user = machine.user("webs01")!;
    assertEquals(user.comment, POOL_COMMENT);
    assertEquals(machine.acesOf("C:\\Secret").map((a) => a.sid), [user.sid]);
    // The warm session: the streamer identifies itself as the account.
    const slot = await waitFor(() =>
      pool.snapshot().find((s) => s.display !== undefined)
    );
    const [streamer] = machine.processesIn(Number(slot.display));
    assertEquals(streamer.argv.slice(1, 6), [
      "streamer",
      "-control",
      CONTROL_URL,
      "-port",
      "9010",
    ]);
    const link = new FakeStreamer("webs01", pool);
    assert(pool.attach(link).ok);
    assertEquals(pool.snapshot()[0].state, "ready");
    await pool.shutdown();
    assertEquals(machine.sessions.has(Number(slot.display)), false);
    assertEquals(machine.runningClients(), []);
  });
});

Deno.test("every RDP client is put in the job right after its launch", async () => {
  let callsAtLaunch: number[] = [];
  let machine!: FakeWindowsMachine;
  await withWindows(async (world) => {
    machine = world.machine;
    const { platform } = world;
    await platform.ensureAccount("webs01", PASSWORD);
    await platform.ensureAccount("webs02", "Other-Passw0rd-2");
    const one = await platform.startSession(spec(1));
    const two = await platform.startSession(spec(2));
    const [job] = machine.jobs;
    assertEquals(machine.jobs.length, 1, "one job for all clients");
    assertEquals(job.members.length, 2);
    assertEquals(
      [...job.members].sort(),
      [...machine.runningClients()].sort(),
    );
    // The first API call after each launch is the assignment.
    assertEquals(
      callsAtLaunch.map((at) => machine.calls[at]),
      ["assignToJob", "assignToJob"],
    );
    await platform.endSession(one);
    await platform.endSession(two);
    assertEquals(job.closed, false, "the job outlives the sessions");
  }, {
    launcher: (launch) => {
      callsAtLaunch = [...callsAtLaunch, machine.calls.length];
      return machine.rdpLauncher(launch);
    },
  });
});

Deno.test("a crash of the service kills its RDP clients; the next start logs their sessions off", async () => {
  const machine = new FakeWindowsMachine();
  const dir = await Deno.makeTempDir({ prefix: "webstream-windows-" });
  const logs = captureLogs("debug");
  const start = () =>
    createWindowsPlatform({
      api: machine.api,
      accountMode: "auto",
      runtimeDirectory: dir,
      logger: logs.logger,
      rdpClient: standInRdpClient(),
      launcher: machine.rdpLauncher,
      streamerCommand: STREAMER,
      pollIntervalMs: 20,
      logonTimeoutMs: 20_000,
      logoffTimeoutMs: 5_000,
    });
  try {
    const before = start();
    await before.prepare();
    await before.ensureAccount("webs01", PASSWORD);
    await before.ensureAccount("webs02", "Other-Passw0rd-2");
    const one = await before.startSession(spec(1));
    const two = await before.startSession(spec(2));
    const clients = machine.runningClients();
    // A client that never made it into the job (the spawn-to-assignment
    // window): the crash cannot reach it.
    const stray = machine.rdpLauncher(rdpLaunch(standInRdpClient(), {
      server: "127.0.0.2",
      account: "someone",
      domain: "WSHOST",
      password: "Unknown-Passw0rd",
      width: 800,
      height: 600,
    }));
    // Refused (no such account): it waits at its credential prompt.
    await waitFor(() => machine.logons.find((l) => l.user === "someone"));

    const killed = await machine.crash();
    assertEquals(killed.sort(), [...clients].sort());
    assertEquals(machine.runningClients(), [stray.pid]);
    assertMatch(await one.ended, /^RDP client exited \(signal SIGKILL\)$/);
    assertMatch(await two.ended, /^RDP client exited \(signal SIGKILL\)$/);
    // As on Windows: the connection is gone, the logged-on session stays.
    for (const session of [one, two]) {
      assertEquals(
        machine.sessions.get(Number(session.id))!.state,
        "disconnected",
      );
    }

    // The service is started again: a new job, the old sessions logged
    // off before the new logon.
    const after = start();
    await after.prepare();
    assertEquals(machine.jobs.map((j) => j.closed), [true, false]);
    await after.ensureAccount("webs01", PASSWORD);
    const again = await after.startSession(spec(1));
    assertEquals(machine.sessions.has(Number(one.id)), false);
    assertEquals(machine.jobs[1].members, [
      machine.runningClients().find((pid) => pid !== stray.pid)!,
    ]);
    await after.endSession(again);
    await after.endAccountProcesses("webs02");
    assertEquals(machine.sessions.has(Number(two.id)), false);
    // The dead service's own watchers see their sessions gone.
    await before.endSession(one);
    await before.endSession(two);
    await stray.stop();
  } finally {
    await machine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an RDP client that cannot be put in the job is stopped and the start fails", async () => {
  await withWindows(async ({ machine, platform, logs }) => {
    await platform.ensureAccount("webs01", PASSWORD);
    machine.failNext(
      "assignToJob",
      new Win32Error("AssignProcessToJobObject", 5),
    );
    await assertRejects(
      () => platform.startSession(spec(1)),
      Error,
      /the RDP client for webs01 \(pid \d+\) could not be put in the service's job object, so it would outlive a crash of the service; it was stopped: AssignProcessToJobObject failed: ERROR_ACCESS_DENIED \(5\)/,
    );
    assertEquals(machine.runningClients(), []);
    assertEquals(machine.launches.length, 1);
    assertEquals(await platform.listSessions(), []);
    assertEquals(
      [...machine.sessions.values()].filter((s) => s.id > 1 && s.id < 65536),
      [],
      "no session of the account is left",
    );
    const record = logs.records.find((r) =>
      /could not put an RDP client in the service's job object/.test(
        String(r.msg),
      )
    );
    assertEquals(record?.level, "error");
    assertEquals(record?.account, "webs01");
    // The next start works.
    const session = await platform.startSession(spec(1));
    assertEquals(machine.jobs[0].members.length, 1);
    await platform.endSession(session);
  });
});
