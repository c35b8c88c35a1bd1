/**
 * Tests for `ffi/windows/netapi32.ts`: lmaccess.h layouts and constants,
 * the nonblocking set, name/password/SID validation and SID encoding, and
 * every `NetApi32` method against the fake SAM — which reads the
 * USER_INFO_1 strings through the addresses the wrapper laid out, after an
 * event-loop turn, and checks NetApiBufferFree is called exactly once.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import { NetApiError } from "../../../ffi/windows/errors.ts";
import {
  checkAccountName,
  checkPassword,
  ERROR_MEMBER_IN_ALIAS,
  ERROR_NO_SUCH_ALIAS,
  LOCALGROUP_MEMBERS_INFO_0,
  NERR_GROUP_NOT_FOUND,
  NERR_USER_EXISTS,
  NERR_USER_NOT_FOUND,
  NetApi32,
  NETAPI32_SYMBOLS,
  type NetApi32Symbols,
  POOL_ACCOUNT_FLAGS,
  UF_ACCOUNTDISABLE,
  UF_DONT_EXPIRE_PASSWD,
  UF_NORMAL_ACCOUNT,
  UF_PASSWD_CANT_CHANGE,
  UF_PASSWD_NOTREQD,
  UF_PASSWORD_EXPIRED,
  UF_SCRIPT,
  USER_INFO_1,
  USER_INFO_1003,
  USER_INFO_1008,
  USER_PRIV_ADMIN,
  USER_PRIV_GUEST,
  USER_PRIV_USER,
} from "../../../ffi/windows/netapi32.ts";
import { sidFromString } from "../../../ffi/windows/sid.ts";
import { writeU32 } from "../../support/windows/fake_kernel32.ts";
import {
  FakeNetApi32,
  fakeUserSid,
} from "../../support/windows/fake_netapi32.ts";

const COMMENT = "webstream pool account";

function setup() {
  const fake = new FakeNetApi32();
  fake.addGroup("Remote Desktop Users");
  return { fake, net: new NetApi32(fake.symbols) };
}

Deno.test("netapi32: struct layouts match lmaccess.h on x64", () => {
  assertEquals(USER_INFO_1.size, 56);
  assertEquals(USER_INFO_1.offsets, {
    usri1_name: 0,
    usri1_password: 8,
    usri1_password_age: 16,
    usri1_priv: 20,
    usri1_home_dir: 24,
    usri1_comment: 32,
    usri1_flags: 40,
    usri1_script_path: 48,
  });
  assertEquals(USER_INFO_1003.size, 8);
  assertEquals(USER_INFO_1008.size, 4);
  assertEquals(LOCALGROUP_MEMBERS_INFO_0.size, 8);
});

Deno.test("netapi32: SDK constants", () => {
  assertEquals([USER_PRIV_GUEST, USER_PRIV_USER, USER_PRIV_ADMIN], [0, 1, 2]);
  assertEquals(
    [
      UF_SCRIPT,
      UF_ACCOUNTDISABLE,
      UF_PASSWD_NOTREQD,
      UF_PASSWD_CANT_CHANGE,
      UF_NORMAL_ACCOUNT,
      UF_DONT_EXPIRE_PASSWD,
      UF_PASSWORD_EXPIRED,
    ],
    [0x1, 0x2, 0x20, 0x40, 0x200, 0x10000, 0x800000],
  );
  assertEquals(POOL_ACCOUNT_FLAGS, 0x10041);
  assertEquals(
    [
      NERR_GROUP_NOT_FOUND,
      NERR_USER_NOT_FOUND,
      NERR_USER_EXISTS,
      ERROR_NO_SUCH_ALIAS,
      ERROR_MEMBER_IN_ALIAS,
    ],
    [2220, 2221, 2224, 1376, 1378],
  );
});

Deno.test("netapi32: every Net* call but NetApiBufferFree is nonblocking", () => {
  const nonblocking = Object.entries(NETAPI32_SYMBOLS)
    .filter(([, d]) => "nonblocking" in d && d.nonblocking)
    .map(([n]) => n)
    .sort();
  assertEquals(nonblocking, [
    "NetLocalGroupAddMembers",
    "NetUserAdd",
    "NetUserDel",
    "NetUserGetInfo",
    "NetUserSetInfo",
  ]);
});

Deno.test("netapi32: account names are checked as Windows does", () => {
  assertEquals(checkAccountName("ws-pool-01"), "ws-pool-01");
  assertEquals(checkAccountName("a".repeat(20)), "a".repeat(20));
  assertThrows(() => checkAccountName(""), TypeError, /empty/);
  assertThrows(
    () => checkAccountName("a".repeat(21)),
    TypeError,
    /longer than 20 characters/,
  );
  for (const c of `"/\\[]:;|=,+*?<>@`) {
    assertThrows(
      () => checkAccountName(`ws${c}x`),
      TypeError,
      /invalid account name .*: contains/,
    );
  }
  assertThrows(() => checkAccountName("a\tb"), TypeError, /control character/);
  assertThrows(
    () => checkAccountName(". ."),
    TypeError,
    /only dots and spaces/,
  );
  assertThrows(
    () => checkAccountName("..."),
    TypeError,
    /only dots and spaces/,
  );
});

Deno.test("netapi32: passwords are checked without being echoed", () => {
  assertEquals(checkPassword("x"), "x");
  assertEquals(checkPassword("p".repeat(256)).length, 256);
  assertThrows(() => checkPassword(""), TypeError, /invalid password: empty/);
  const e = assertThrows(
    () => checkPassword("secret".repeat(50)),
    TypeError,
    /longer than 256 characters/,
  );
  assert(!e.message.includes("secret"));
  assertThrows(() => checkPassword("a\0b"), TypeError, /NUL/);
});

Deno.test("netapi32: addUser lays out USER_INFO_1 the fake can read", async () => {
  const { fake, net } = setup();
  await net.addUser({
    name: "ws-pool-01",
    password: "S3cret!pw",
    comment: COMMENT,
  });
  const u = fake.user("ws-pool-01");
  assert(u);
  assertEquals(u.password, "S3cret!pw");
  assertEquals(u.comment, COMMENT);
  assertEquals(u.priv, USER_PRIV_USER);
  assertEquals(u.homeDir, "");
  assertEquals(u.scriptPath, "");
  assertEquals(u.flags, POOL_ACCOUNT_FLAGS | UF_NORMAL_ACCOUNT);
  assertEquals(fake.calls, [{
    fn: "NetUserAdd",
    name: "ws-pool-01",
    level: 1,
  }]);
});

Deno.test("netapi32: addUser always sets UF_SCRIPT and takes given flags", async () => {
  const { fake, net } = setup();
  await net.addUser({
    name: "ws-pool-02",
    password: "S3cret!pw",
    flags: UF_ACCOUNTDISABLE,
  });
  assertEquals(
    fake.user("ws-pool-02")?.flags,
    UF_ACCOUNTDISABLE | UF_SCRIPT | UF_NORMAL_ACCOUNT,
  );
  assertEquals(fake.user("ws-pool-02")?.comment, "");
});

Deno.test("netapi32: addUser errors carry NET_API_STATUS names", async () => {
  const { fake, net } = setup();
  fake.addUser({ name: "Taken" });
  const e = await assertRejects(
    () => net.addUser({ name: "taken", password: "S3cret!pw" }),
    NetApiError,
    /NetUserAdd failed: NERR_UserExists \(2224\)/,
  );
  assertEquals((e as NetApiError).code, 2224);
  await assertRejects(
    () => net.addUser({ name: "Remote Desktop Users", password: "S3cret!pw" }),
    NetApiError,
    /NERR_GroupExists \(2223\)/,
  );
  await assertRejects(
    () => net.addUser({ name: "ws-pool-03", password: "short" }),
    NetApiError,
    /NetUserAdd failed: NERR_PasswordTooShort \(2245\)/,
  );
  fake.failNext.set("NetUserAdd", 5);
  await assertRejects(
    () => net.addUser({ name: "ws-pool-03", password: "S3cret!pw" }),
    NetApiError,
    /NetUserAdd failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  assertEquals(fake.user("ws-pool-03"), undefined);
});

Deno.test("netapi32: ERROR_INVALID_PARAMETER names the parm_err field", async () => {
  const fake = new FakeNetApi32();
  const symbols: NetApi32Symbols = {
    ...fake.symbols,
    NetUserAdd: (_server, _level, _buf, parmErr) => {
      writeU32(parmErr, 7);
      return Promise.resolve(87);
    },
  };
  await assertRejects(
    () =>
      new NetApi32(symbols).addUser({
        name: "ws-pool-01",
        password: "S3cret!pw",
      }),
    NetApiError,
    /NetUserAdd failed: ERROR_INVALID_PARAMETER \(87\); parm_err 7 \(USER_COMMENT_PARMNUM\)/,
  );
});

Deno.test("netapi32: invalid input is refused before any call", async () => {
  const { fake, net } = setup();
  await assertRejects(
    () =>
      net.addUser({ name: "much-too-long-a-name-x", password: "S3cret!pw" }),
    TypeError,
    /longer than 20/,
  );
  await assertRejects(
    () => net.addUser({ name: "ok", password: "" }),
    TypeError,
    /invalid password/,
  );
  await assertRejects(
    () =>
      net.addUser({
        name: "ok",
        password: "S3cret!pw",
        comment: "c".repeat(257),
      }),
    TypeError,
    /comment: longer than 256/,
  );
  await assertRejects(
    () => net.addUser({ name: "ok", password: "S3cret!pw", flags: -1 }),
    TypeError,
    /invalid account flags/,
  );
  await assertRejects(
    () => net.setPassword("a/b", "S3cret!pw"),
    TypeError,
    /"\/"/,
  );
  await assertRejects(() => net.getUser(""), TypeError, /empty/);
  await assertRejects(() => net.deleteUser("x@y"), TypeError, /"@"/);
  await assertRejects(
    () => net.addGroupMembers("", [new Uint8Array(8)]),
    TypeError,
  );
  assertEquals(fake.calls, []);
});

Deno.test("netapi32: setPassword resets through USER_INFO_1003", async () => {
  const { fake, net } = setup();
  fake.addUser({ name: "ws-pool-01", password: "old-password" });
  await net.setPassword("ws-pool-01", "N3w-password");
  assertEquals(fake.user("ws-pool-01")?.password, "N3w-password");
  assertEquals(fake.calls.at(-1), {
    fn: "NetUserSetInfo",
    name: "ws-pool-01",
    level: 1003,
  });
  await assertRejects(
    () => net.setPassword("ws-pool-01", "short"),
    NetApiError,
    /NetUserSetInfo failed: NERR_PasswordTooShort/,
  );
  await assertRejects(
    () => net.setPassword("nobody", "N3w-password"),
    NetApiError,
    /NetUserSetInfo failed: NERR_UserNotFound \(2221\)/,
  );
});

Deno.test("netapi32: setFlags sets flags through USER_INFO_1008", async () => {
  const { fake, net } = setup();
  fake.addUser({ name: "ws-pool-01", flags: UF_SCRIPT | UF_NORMAL_ACCOUNT });
  await net.setFlags("ws-pool-01", POOL_ACCOUNT_FLAGS | UF_ACCOUNTDISABLE);
  assertEquals(
    fake.user("ws-pool-01")?.flags,
    POOL_ACCOUNT_FLAGS | UF_ACCOUNTDISABLE | UF_NORMAL_ACCOUNT,
  );
  // UF_SCRIPT is required by level 1008 and always added.
  await net.setFlags("ws-pool-01", UF_DONT_EXPIRE_PASSWD);
  assertEquals(
    fake.user("ws-pool-01")?.flags,
    UF_DONT_EXPIRE_PASSWD | UF_SCRIPT | UF_NORMAL_ACCOUNT,
  );
  assertEquals(fake.calls.at(-1)?.level, 1008);
  await assertRejects(
    () => net.setFlags("nobody", 0),
    NetApiError,
    /NERR_UserNotFound \(2221\)/,
  );
});

Deno.test("netapi32: getUser decodes USER_INFO_1 and frees it once", async () => {
  const { fake, net } = setup();
  fake.addUser({
    name: "ws-pool-01",
    comment: COMMENT,
    flags: POOL_ACCOUNT_FLAGS | UF_NORMAL_ACCOUNT,
    homeDir: "C:\\Users\\ws-pool-01",
  });
  assertEquals(await net.getUser("WS-POOL-01"), {
    name: "ws-pool-01",
    comment: COMMENT,
    flags: POOL_ACCOUNT_FLAGS | UF_NORMAL_ACCOUNT,
    priv: USER_PRIV_USER,
    homeDir: "C:\\Users\\ws-pool-01",
    scriptPath: "",
    passwordAge: 3600,
  });
  fake.assertAllFreed();
  assertEquals(fake.heap.all().map((b) => b.frees), [1]);
});

Deno.test("netapi32: getUser is undefined for NERR_UserNotFound, throws otherwise", async () => {
  const { fake, net } = setup();
  assertEquals(await net.getUser("nobody"), undefined);
  fake.failNext.set("NetUserGetInfo", 5);
  await assertRejects(
    () => net.getUser("nobody"),
    NetApiError,
    /NetUserGetInfo failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  assertEquals(fake.heap.all(), []);
});

Deno.test("netapi32: deleteUser deletes, and is false for a missing account", async () => {
  const { fake, net } = setup();
  const u = fake.addUser({ name: "ws-pool-01" });
  fake.groups.get("remote desktop users")?.members.push(u.sid);
  assertEquals(await net.deleteUser("ws-pool-01"), true);
  assertEquals(fake.user("ws-pool-01"), undefined);
  assertEquals(fake.groups.get("remote desktop users")?.members, []);
  assertEquals(await net.deleteUser("ws-pool-01"), false);
  fake.failNext.set("NetUserDel", 5);
  await assertRejects(
    () => net.deleteUser("ws-pool-01"),
    NetApiError,
    /NetUserDel failed: ERROR_ACCESS_DENIED \(5\)/,
  );
});

Deno.test("netapi32: addGroupMembers passes SIDs through LOCALGROUP_MEMBERS_INFO_0", async () => {
  const { fake, net } = setup();
  const a = fake.addUser({ name: "ws-pool-01" });
  const b = fake.addUser({ name: "ws-pool-02" });
  assertEquals(
    await net.addGroupMembers("Remote Desktop Users", [
      fakeUserSid(a),
      fakeUserSid(b),
    ]),
    2,
  );
  assertEquals(fake.groups.get("remote desktop users")?.members, [
    a.sid,
    b.sid,
  ]);
});

Deno.test("netapi32: an existing member is not an error (ERROR_MEMBER_IN_ALIAS)", async () => {
  const { fake, net } = setup();
  const a = fake.addUser({ name: "ws-pool-01" });
  const b = fake.addUser({ name: "ws-pool-02" });
  assertEquals(
    await net.addGroupMembers("Remote Desktop Users", [fakeUserSid(a)]),
    1,
  );
  assertEquals(
    await net.addGroupMembers("Remote Desktop Users", [fakeUserSid(a)]),
    0,
  );
  // The batch fails as a whole, so the wrapper retries one by one.
  assertEquals(
    await net.addGroupMembers("Remote Desktop Users", [
      fakeUserSid(a),
      fakeUserSid(b),
    ]),
    1,
  );
  assertEquals(fake.groups.get("remote desktop users")?.members, [
    a.sid,
    b.sid,
  ]);
  assertEquals(
    fake.calls.filter((c) => c.fn === "NetLocalGroupAddMembers").length,
    5,
  );
});

Deno.test("netapi32: addGroupMembers errors", async () => {
  const { fake, net } = setup();
  const a = fake.addUser({ name: "ws-pool-01" });
  await assertRejects(
    () => net.addGroupMembers("No Such Group", [fakeUserSid(a)]),
    NetApiError,
    /NetLocalGroupAddMembers failed: NERR_GroupNotFound \(2220\)/,
  );
  fake.unknownGroupStatus = ERROR_NO_SUCH_ALIAS;
  await assertRejects(
    () => net.addGroupMembers("No Such Group", [fakeUserSid(a)]),
    NetApiError,
    /ERROR_NO_SUCH_ALIAS \(1376\)/,
  );
  await assertRejects(
    () =>
      net.addGroupMembers("Remote Desktop Users", [
        sidFromString("S-1-5-21-9-9-9-9"),
      ]),
    NetApiError,
    /ERROR_NO_SUCH_MEMBER \(1387\)/,
  );
  await assertRejects(
    () => net.addGroupMembers("Remote Desktop Users", []),
    TypeError,
    /no SIDs/,
  );
  await assertRejects(
    () => net.addGroupMembers("Remote Desktop Users", [new Uint8Array(9)]),
    TypeError,
    /SID #0 is not a valid binary SID/,
  );
});
