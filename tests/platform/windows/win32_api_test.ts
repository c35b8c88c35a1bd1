/**
 * Tests for `mod/platform/windows/win32_api.ts`: the real `WindowsApi` over
 * the real wrappers of `ffi/windows/`, each over its fake DLL (which checks
 * layouts, encodings, frees and handle closes): accounts and groups, SIDs
 * looked up as `COMPUTER\name`, privileges, WTS sessions and logoff, the
 * streamer started with the user's token and merged environment, process
 * waits (an exit code of 259 included), the owners of TCP connections
 * (iphlpapi), DENY ACEs, protected folders, profiles (a failed deletion
 * decided by the ProfileList key), the registry restore of a loaded
 * and an unloaded hive, found through the profile's ProfileList record, and
 * the kill-on-close job the RDP clients are put in.
 *
 * @module
 */
import {
  Advapi32,
  DENY_MASKS,
  SUB_CONTAINERS_AND_OBJECTS_INHERIT,
} from "../../../ffi/windows/advapi32.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { IpHlpApi } from "../../../ffi/windows/iphlpapi.ts";
import {
  JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  Kernel32,
  PROCESS_JOB_ASSIGN,
} from "../../../ffi/windows/kernel32.ts";
import {
  NetApi32,
  POOL_ACCOUNT_FLAGS,
  REMOTE_DESKTOP_USERS_SID,
  UF_ACCOUNTDISABLE,
} from "../../../ffi/windows/netapi32.ts";
import { sidFromString } from "../../../ffi/windows/sid.ts";
import { wide } from "../../../ffi/windows/strings.ts";
import { UserEnv } from "../../../ffi/windows/userenv.ts";
import { WTS_CONNECTSTATE, WtsApi32 } from "../../../ffi/windows/wtsapi32.ts";
import { PLATFORM_PRIVILEGES } from "../../../mod/platform/windows/api.ts";
import { HIVE_RESTORE } from "../../../mod/platform/windows/mod.ts";
import {
  createWin32Api,
  PROFILE_LIST,
} from "../../../mod/platform/windows/win32_api.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../support/assert.ts";
import { pointerAt } from "../../../ffi/windows/struct.ts";
import {
  FakeAdvapi32,
  FakeKey,
  HKLM,
  HKU,
} from "../../support/windows/fake_advapi32.ts";
import { FakeIpHlpApi } from "../../support/windows/fake_iphlpapi.ts";
import {
  FakeKernel32,
  JOB_KILL_EXIT_CODE,
} from "../../support/windows/fake_kernel32.ts";
import { FakeNetApi32 } from "../../support/windows/fake_netapi32.ts";
import { FakeUserEnv } from "../../support/windows/fake_userenv.ts";
import { FakeWtsApi32 } from "../../support/windows/fake_wtsapi32.ts";

const SID = "S-1-5-21-1111111111-2222222222-3333333333-1001";

function setup(files: string[] = []) {
  const kernel = new FakeKernel32();
  const k32 = new Kernel32(kernel.symbols);
  const net = new FakeNetApi32();
  const wts = new FakeWtsApi32(kernel);
  const adv = new FakeAdvapi32(kernel);
  // Profiles have their ProfileList keys in the fake advapi32's registry.
  const env = new FakeUserEnv(kernel, { registry: adv });
  const ip = new FakeIpHlpApi();
  const api = createWin32Api({
    kernel32: k32,
    netapi32: new NetApi32(net.symbols),
    wtsapi32: new WtsApi32(wts.symbols, k32),
    userenv: new UserEnv(env.symbols, k32),
    advapi32: new Advapi32(adv.symbols, k32),
    iphlpapi: new IpHlpApi(ip.symbols),
  }, {
    computerName: adv.computerName,
    fileExists: (path) => Promise.resolve(files.includes(path)),
  });
  return { api, kernel, net, wts, env, adv, ip };
}

/** The key at `path` below `root`, created as needed (seeding the fake). */
function seedKey(root: FakeKey, path: string): FakeKey {
  let key = root;
  for (const part of path.split("\\")) {
    let next = key.subkeys.get(part.toLowerCase());
    if (!next) {
      next = new FakeKey(part);
      key.subkeys.set(part.toLowerCase(), next);
    }
    key = next;
  }
  return key;
}

Deno.test("accounts: add, read, password, flags, group, delete", async () => {
  const { api, net } = setup();
  const rdu = net.addGroup("Remotedesktopbenutzer");
  await api.addUser({
    name: "webs01",
    password: "Pool-Passw0rd",
    comment: "webstream pool account",
    flags: POOL_ACCOUNT_FLAGS,
  });
  const user = net.user("webs01")!;
  assertEquals(user.comment, "webstream pool account");
  assertEquals(await api.getUser("webs01"), {
    comment: "webstream pool account",
    flags: user.flags,
  });
  assertEquals(await api.getUser("nobody"), undefined);
  await api.setPassword("webs01", "Next-Passw0rd");
  assertEquals(user.password, "Next-Passw0rd");
  await api.setUserFlags("webs01", POOL_ACCOUNT_FLAGS | UF_ACCOUNTDISABLE);
  assertEquals(user.flags & UF_ACCOUNTDISABLE, UF_ACCOUNTDISABLE);
  await api.addToGroup("Remotedesktopbenutzer", sidFromString(user.sid));
  await api.addToGroup("Remotedesktopbenutzer", sidFromString(user.sid));
  assertEquals(rdu.members, [user.sid], "a second add is not an error");
  await assertRejects(
    () => api.addUser({ name: "webs01", password: "x", comment: "", flags: 1 }),
    Error,
    /NERR_UserExists|NERR_PasswordTooShort/,
  );
  assertEquals(await api.deleteUser("webs01"), true);
  assertEquals(await api.deleteUser("webs01"), false);
  net.assertAllFreed();
});

Deno.test("SIDs: local accounts by COMPUTER\\name, groups by well-known SID", async () => {
  const { api, adv } = setup();
  adv.addUser("webs01", { sid: SID });
  const sid = await api.accountSid("webs01");
  assertEquals(sid.sidString, SID);
  assertEquals(sid.sid, sidFromString(SID));
  assertEquals(
    await api.groupName(REMOTE_DESKTOP_USERS_SID),
    "Remotedesktopbenutzer",
  );
  // A domain account of the same name is never taken for the local one.
  adv.accounts.push({ name: "webs02", domain: "CORP", sid: `${SID}9`, use: 1 });
  await assertRejects(
    () => api.accountSid("webs02"),
    Win32Error,
    /LookupAccountNameW failed: ERROR_NONE_MAPPED/,
  );
  assert(!adv.kernel.localHeap.outstanding().length, "LocalFree'd");
});

Deno.test("privileges: enabled, or refused when not held", async () => {
  const { api, adv } = setup();
  await api.enablePrivileges(PLATFORM_PRIVILEGES);
  for (const name of PLATFORM_PRIVILEGES) {
    assert(adv.enabled.has(name.toLowerCase()), name);
  }
  adv.held.delete("setcbprivilege");
  await assertRejects(
    () => api.enablePrivileges(["SeTcbPrivilege"]),
    Win32Error,
    /ERROR_NOT_ALL_ASSIGNED/,
  );
  // Also when the last error reads 0: the token is checked instead.
  adv.kernel.overwrittenLastError = 0;
  await assertRejects(
    () => api.enablePrivileges(["SeTcbPrivilege"]),
    Win32Error,
    /ERROR_NOT_ALL_ASSIGNED \(1300\) \(SeTcbPrivilege\)/,
  );
  adv.kernel.assertAllClosed();
});

Deno.test("sessions: states and users; logoff; tokens", async () => {
  const { api, wts } = setup();
  wts.addSession({
    id: 2,
    winStation: "RDP-Tcp#0",
    state: WTS_CONNECTSTATE.WTSActive,
    user: "webs01",
    domain: "WSHOST",
  });
  assertEquals(await api.sessions(), [
    { id: 0, station: "Services", state: "disconnected", user: "" },
    { id: 1, station: "Console", state: "connected", user: "" },
    { id: 65536, station: "RDP-Tcp", state: "listen", user: "" },
    { id: 2, station: "RDP-Tcp#0", state: "active", user: "webs01" },
  ]);
  wts.assertAllFreed();
  const error = await assertRejects(
    () => api.userToken(1),
    Win32Error,
    /WTSQueryUserToken failed: ERROR_NO_TOKEN/,
  );
  assertEquals((error as Win32Error).code, 1008);
  await api.logoff(2);
  assertEquals(wts.logoffs, [{ id: 2, wait: 1 }]);
  await api.logoff(2); // gone: counts as logged off
  assertEquals((await api.sessions()).some((s) => s.id === 2), false);
});

Deno.test("the streamer: started with the user's token and environment", async () => {
  const { api, wts, env, adv, kernel } = setup();
  wts.addSession({
    id: 3,
    winStation: "RDP-Tcp#1",
    state: WTS_CONNECTSTATE.WTSActive,
    user: "webs01",
    environment: ["USERPROFILE=C:\\Users\\webs01", "USERNAME=webs01"],
  });
  const token = await api.userToken(3);
  const process = await api.startProcessAsUser(token, {
    argv: [
      "C:\\Program Files\\webstream\\webstream.exe",
      "streamer",
      "-reporting",
      '{"a":1}',
    ],
    env: { WEBSTREAM_LICENCE_PROOF: "proof-1", username: "ignored-case" },
  });
  api.closeHandle(token);
  const [launch] = adv.launches;
  assertEquals(launch.user, "webs01");
  assertEquals(
    launch.commandLine,
    '"C:\\Program Files\\webstream\\webstream.exe" streamer -reporting "{\\"a\\":1}"',
  );
  assertEquals(
    launch.application,
    "C:\\Program Files\\webstream\\webstream.exe",
  );
  assertEquals(launch.desktop, "winsta0\\default");
  assertEquals(launch.cwd, "C:\\Users\\webs01");
  assertEquals(launch.environment, [
    "ALLUSERSPROFILE=C:\\ProgramData",
    "SystemRoot=C:\\Windows",
    "username=ignored-case",
    "USERPROFILE=C:\\Users\\webs01",
    "WEBSTREAM_LICENCE_PROOF=proof-1",
  ]);
  assertEquals(launch.flags & 0x08000400, 0x08000400, "unicode env, no window");
  assertEquals(await api.processSessionId(process.pid), 3);
  env.assertAllFreed();

  const exit = process.wait();
  assert(process.wait() === exit, "one wait, shared");
  kernel.exitProcess(process.pid, 4);
  assertEquals(await exit, 4);
  process.kill(); // exited and closed: nothing to do
  kernel.assertAllClosed();
});

Deno.test("the streamer: an exit code of 259 (STILL_ACTIVE's value) is reported as such", async () => {
  const { api, wts, kernel } = setup();
  wts.addSession({
    id: 3,
    winStation: "RDP-Tcp#1",
    state: WTS_CONNECTSTATE.WTSActive,
    user: "webs01",
    environment: ["USERPROFILE=C:\\Users\\webs01"],
  });
  const token = await api.userToken(3);
  const process = await api.startProcessAsUser(token, {
    argv: ["C:\\webstream.exe", "streamer"],
    env: {},
  });
  api.closeHandle(token);
  const exit = process.wait();
  kernel.exitProcess(process.pid, 259);
  assertEquals(await exit, 259);
  kernel.assertAllClosed();
});

Deno.test("protectFolder: SYSTEM and Administrators only, protected, through advapi32", async () => {
  const { api, adv } = setup();
  adv.addFile("C:\\ProgramData\\webstream", {
    directory: true,
    inherited: [{ type: 0, flags: 0x13, mask: 0x1200a9, sid: "S-1-5-32-545" }],
  });
  await api.protectFolder("C:\\ProgramData\\webstream");
  assertEquals(
    adv.explicitAccess.map((e) => [e.sid, e.mask, e.mode, e.inheritance]),
    [
      ["S-1-5-18", 0x1f01ff, 2, SUB_CONTAINERS_AND_OBJECTS_INHERIT],
      ["S-1-5-32-544", 0x1f01ff, 2, SUB_CONTAINERS_AND_OBJECTS_INHERIT],
    ],
  );
  assertEquals(adv.securityWrites, [{
    path: "c:\\programdata\\webstream",
    info: 0x80000004,
  }]);
  assertEquals(
    adv.dacl("C:\\ProgramData\\webstream")!.map((a) => a.sid),
    ["S-1-5-18", "S-1-5-32-544"],
  );
  assert(!adv.kernel.localHeap.outstanding().length, "LocalFree'd");
  await assertRejects(
    () => api.protectFolder("C:\\ProgramData\\missing"),
    Win32Error,
    /ERROR_FILE_NOT_FOUND/,
  );
});

Deno.test("tcpOwnerPid: the process at the peer's end of a connection", async () => {
  const { api, ip } = setup();
  // The session manager (pid 100) and the streamer (pid 4711) it accepted.
  ip.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 8443,
    remote: "127.0.0.1",
    remotePort: 50000,
    pid: 100,
  });
  ip.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 50000,
    remote: "127.0.0.1",
    remotePort: 8443,
    pid: 4711,
  });
  ip.addV6({
    state: 5,
    local: "::1",
    localPort: 50001,
    remote: "::1",
    remotePort: 8443,
    pid: 4712,
  });
  assertEquals(
    await api.tcpOwnerPid({ hostname: "127.0.0.1", port: 50000 }),
    4711,
  );
  assertEquals(
    await api.tcpOwnerPid({ hostname: "::ffff:127.0.0.1", port: 50000 }),
    4711,
  );
  assertEquals(await api.tcpOwnerPid({ hostname: "::1", port: 50001 }), 4712);
  assertEquals(
    await api.tcpOwnerPid({ hostname: "127.0.0.1", port: 50002 }),
    undefined,
  );
  // Errors reject (the platform then refuses the streamer and logs why).
  await assertRejects(
    () => api.tcpOwnerPid({ hostname: "not-an-ip", port: 50000 }),
    TypeError,
    /not an IP address/,
  );
});

Deno.test("restrictions: one DENY ACE per trustee, replaced, cleared", async () => {
  const { api, adv } = setup();
  adv.addFile("C:\\Secret", { directory: true });
  const sid = sidFromString(SID);
  await api.denyAccess("C:\\Secret", sid, { deny: ["read"], recursive: true });
  await api.denyAccess("C:\\Secret", sid, { deny: ["read"], recursive: true });
  assertEquals(adv.dacl("C:\\Secret"), [{
    type: 1,
    flags: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    mask: DENY_MASKS.read,
    sid: SID,
  }]);
  await api.denyAccess("C:\\Secret", sid, {
    deny: ["write"],
    recursive: false,
  });
  assertEquals(adv.dacl("C:\\Secret")!.map((a) => a.mask), [DENY_MASKS.write]);
  await api.clearDenies("C:\\Secret", sid);
  assertEquals(adv.dacl("C:\\Secret"), []);
  const missing = await assertRejects(
    () =>
      api.denyAccess("C:\\Missing", sid, { deny: ["read"], recursive: false }),
    Win32Error,
  );
  assertMatch(
    missing.message,
    /GetNamedSecurityInfoW failed: ERROR_FILE_NOT_FOUND/,
  );
  assert(!adv.kernel.localHeap.outstanding().length, "LocalFree'd");
});

Deno.test("profiles: deleted once, then there is none", async () => {
  const { api, env, adv } = setup();
  env.addProfile(SID, { path: "C:\\Users\\webs01" });
  assert(adv.key(HKLM, `${PROFILE_LIST}\\${SID}`), "recorded in ProfileList");
  assertEquals(await api.deleteProfile(SID), true);
  assertEquals(adv.key(HKLM, `${PROFILE_LIST}\\${SID}`), undefined);
  // The failed delete's code is not readable: the missing ProfileList key
  // says there was nothing to delete.
  assertEquals(await api.deleteProfile(SID), false);
  assertEquals(env.deletes, [SID, SID], "never retried synchronously");
  adv.kernel.assertAllClosed("hkey");
});

Deno.test("profiles: a profile that stays (loaded) is an error naming its SID", async () => {
  const { api, env, adv } = setup();
  env.addProfile(SID, { path: "C:\\Users\\webs01", failWith: 32 });
  const error = await assertRejects(
    () => api.deleteProfile(SID),
    Win32Error,
    new RegExp(
      `^DeleteProfileW failed .*; the profile of ${SID} is still there$`,
    ),
  );
  assertEquals((error as Win32Error).code, undefined);
  assert(env.profiles.has(SID));
  // The ProfileList key was read through RegOpenKeyExW and closed again.
  assert(adv.calls.includes("RegOpenKeyExW"));
  adv.kernel.assertAllClosed("hkey");
});

Deno.test("restoreHive: in a loaded hive, in a hive file, or no profile", async () => {
  const file = "C:\\Users\\webs01\\NTUSER.DAT";
  const { api, adv, kernel } = setup([file]);
  await api.enablePrivileges(PLATFORM_PRIVILEGES);
  const run = "Software\\Microsoft\\Windows\\CurrentVersion\\Run";
  const seed = (hive: FakeKey): void => {
    let key = hive;
    for (const part of run.split("\\")) {
      const next = new FakeKey(part);
      key.subkeys.set(part.toLowerCase(), next);
      key = next;
    }
    key.values.set("evil", {
      name: "evil",
      type: 1,
      data: new Uint8Array(4),
    });
  };
  const check = (hive: FakeKey): void => {
    assertEquals(hive.find(run), undefined, "Run is gone");
    const environment = hive.find("Environment")!;
    assertEquals([...environment.values.keys()].sort(), ["temp", "tmp"]);
    assertEquals(environment.values.get("temp")!.type, 2, "REG_EXPAND_SZ");
  };

  // Not loaded: the file is loaded for the while, then unloaded.
  seed(adv.hiveFile(file));
  assertEquals(
    await api.restoreHive({ name: "webs01", sidString: SID }, HIVE_RESTORE),
    true,
  );
  check(adv.hiveFile(file));
  assertEquals([...adv.roots.get(HKU)!.subkeys.keys()].sort(), [
    ".default",
    "s-1-5-18",
  ]);

  // Loaded (its user is logged on): restored in place.
  const loaded = new FakeKey(SID);
  seed(loaded);
  adv.roots.get(HKU)!.subkeys.set(SID.toLowerCase(), loaded);
  assertEquals(
    await api.restoreHive({ name: "webs01", sidString: SID }, HIVE_RESTORE),
    true,
  );
  check(loaded);

  // No profile: nothing is loaded (RegLoadKeyW would create the file).
  assertEquals(
    await api.restoreHive(
      { name: "webs02", sidString: `${SID}2` },
      HIVE_RESTORE,
    ),
    false,
  );
  assertEquals(adv.createdHiveFiles, []);
  kernel.assertAllClosed("hkey");
});

Deno.test("restoreHive: the profile folder comes from ProfileList, expanded", async () => {
  // The folder is not named after the account: webs03 existed before.
  const file = "C:\\Users\\webs03.WSHOST\\NTUSER.DAT";
  const { api, adv, kernel } = setup([file, "C:\\Users\\webs03\\NTUSER.DAT"]);
  await api.enablePrivileges(PLATFORM_PRIVILEGES);
  adv.hiveFile(file);
  const sid3 = `${SID}3`;
  seedKey(adv.roots.get(HKLM)!, `${PROFILE_LIST}\\${sid3}`).values.set(
    "profileimagepath",
    {
      name: "ProfileImagePath",
      type: 2, // REG_EXPAND_SZ
      data: wide("%SystemDrive%\\Users\\webs03.WSHOST"),
    },
  );
  assertEquals(
    await api.restoreHive({ name: "webs03", sidString: sid3 }, HIVE_RESTORE),
    true,
  );
  assertEquals(
    [...adv.hiveFile(file).find("Environment")!.values.keys()].sort(),
    ["temp", "tmp"],
  );
  assertEquals(
    adv.hiveFiles.has("c:\\users\\webs03\\ntuser.dat"),
    false,
    "the guessed folder is not touched",
  );

  // A REG_SZ record with a trailing backslash; its folder has no hive.
  const sid4 = `${SID}4`;
  seedKey(adv.roots.get(HKLM)!, `${PROFILE_LIST}\\${sid4}`).values.set(
    "profileimagepath",
    {
      name: "ProfileImagePath",
      type: 1,
      data: wide("D:\\Profiles\\webs04\\"),
    },
  );
  assertEquals(
    await api.restoreHive({ name: "webs04", sidString: sid4 }, HIVE_RESTORE),
    false,
  );
  assertEquals(adv.createdHiveFiles, []);
  kernel.assertAllClosed("hkey");
});

Deno.test("process job: kill-on-close, clients assigned by pid with the rights it needs, handles closed", async () => {
  const { api, kernel } = setup();
  kernel.addProcess({ pid: 500, sessionId: 0 });
  kernel.addProcess({ pid: 501, sessionId: 0 });
  kernel.addProcess({ pid: 502, sessionId: 0 }); // not ours to kill
  const job = await api.createProcessJob();
  assertEquals(job.killOnClose, true);
  const [jobHandle] = kernel.handles("job");
  assertEquals(
    kernel.job(pointerAt(jobHandle.address))?.limitFlags,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  );
  await api.assignToJob(job, 500);
  await api.assignToJob(job, 501);
  assertEquals(
    kernel.handles("process").map((h) => [h.data.pid, h.data.access]),
    [[500, PROCESS_JOB_ASSIGN], [501, PROCESS_JOB_ASSIGN]],
  );
  // Only the job's handle stays open: the process handles were closed.
  assertEquals(
    kernel.handles().filter((h) => !h.closed).map((h) => h.kind),
    ["job"],
  );
  // The service crashes: Windows closes the job's handle.
  assertEquals(kernel.endThisProcess(), [500, 501]);
  assertEquals(kernel.processes.get(500)!.exitCode, JOB_KILL_EXIT_CODE);
  assertEquals(kernel.processes.get(502)!.exitCode, undefined);
});

Deno.test("process job: an exited or unknown process, or a foreign job, is refused", async () => {
  const { api, kernel } = setup();
  kernel.addProcess({ pid: 600, sessionId: 0 });
  const job = await api.createProcessJob();
  kernel.exitProcess(600, 0);
  await assertRejects(
    () => api.assignToJob(job, 600),
    Win32Error,
    /AssignProcessToJobObject failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  await assertRejects(
    () => api.assignToJob(job, 601),
    Win32Error,
    /OpenProcess failed: ERROR_INVALID_PARAMETER \(87\)/,
  );
  await assertRejects(
    () => api.assignToJob({ killOnClose: true }, 600),
    TypeError,
    /not a job of this API/,
  );
  // The failed assignment's process handle was closed all the same.
  assertEquals(kernel.handles("process").every((h) => h.closed), true);
  assertEquals(kernel.handles("job").filter((h) => !h.closed).length, 1);
});
