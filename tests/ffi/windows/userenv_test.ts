/**
 * Tests for `ffi/windows/userenv.ts`: the nonblocking set, environment
 * blocks built from a session's token and destroyed exactly once (also when
 * the callback throws or its promise rejects), profile deletion off the
 * event loop with a failure decided by whether the profile remains (gone:
 * false; still there: an error naming the SID), and the profiles
 * directory size protocol decided by the size returned, not by the
 * last-error code.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import { readWideList } from "../../../ffi/windows/strings.ts";
import { addressOfPointer, pointerAt } from "../../../ffi/windows/struct.ts";
import {
  type DeleteProfileOptions,
  ERROR_FILE_NOT_FOUND,
  ERROR_INSUFFICIENT_BUFFER,
  PROFILE_LIST,
  UserEnv,
  USERENV_SYMBOLS,
  type UserEnvSymbols,
} from "../../../ffi/windows/userenv.ts";
import {
  ERROR_ACCESS_DENIED,
  FakeKernel32,
} from "../../support/windows/fake_kernel32.ts";
import { FakeUserEnv } from "../../support/windows/fake_userenv.ts";
import { FakeWtsApi32 } from "../../support/windows/fake_wtsapi32.ts";
import { WtsApi32 } from "../../../ffi/windows/wtsapi32.ts";

const SID = "S-1-5-21-1111111111-2222222222-3333333333-1001";

function setup() {
  const k32 = new FakeKernel32();
  const fake = new FakeUserEnv(k32);
  const token = k32.createHandle("token", {
    user: "ws-pool-01",
    environment: ["USERNAME=ws-pool-01", "USERPROFILE=C:\\Users\\ws-pool-01"],
  });
  return {
    k32,
    fake,
    token,
    env: new UserEnv(fake.symbols, new Kernel32(k32.symbols)),
  };
}

Deno.test("userenv: DeleteProfileW is nonblocking and bound once (no synchronous retry)", () => {
  const nonblocking = Object.entries(USERENV_SYMBOLS)
    .filter(([, d]) => "nonblocking" in d && d.nonblocking)
    .map(([n]) => n);
  assertEquals(nonblocking, ["DeleteProfileW"]);
  assertEquals(Object.keys(USERENV_SYMBOLS).sort(), [
    "CreateEnvironmentBlock",
    "DeleteProfileW",
    "DestroyEnvironmentBlock",
    "GetProfilesDirectoryW",
  ]);
  assertEquals([ERROR_FILE_NOT_FOUND, ERROR_INSUFFICIENT_BUFFER], [2, 122]);
  assertEquals(
    PROFILE_LIST,
    "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList",
  );
});

Deno.test("userenv: environmentStrings reads the user's block and destroys it", () => {
  const { fake, token, env } = setup();
  assertEquals(env.environmentStrings(token), [
    "ALLUSERSPROFILE=C:\\ProgramData",
    "SystemRoot=C:\\Windows",
    "USERNAME=ws-pool-01",
    "USERPROFILE=C:\\Users\\ws-pool-01",
  ]);
  assertEquals(env.environmentStrings(null), [
    "ALLUSERSPROFILE=C:\\ProgramData",
    "SystemRoot=C:\\Windows",
  ]);
  assert(
    env.environmentStrings(token, { inherit: true }).includes(
      "WEBSTREAM_ROLE=backend",
    ),
  );
  fake.assertAllFreed();
  assertEquals(fake.heap.all().map((b) => b.frees), [1, 1, 1]);
});

Deno.test("userenv: withEnvironment passes the live block, then destroys it", () => {
  const { fake, token, env } = setup();
  let seen: bigint | undefined;
  const result = env.withEnvironment(token, (block) => {
    seen = addressOfPointer(block);
    assert(fake.heap.find(block), "block is live during fn");
    return readWideList(block).length;
  });
  assertEquals(result, 4);
  assertEquals(fake.heap.find(pointerAt(seen!)), undefined);
  fake.assertAllFreed();
});

Deno.test("userenv: withEnvironment destroys the block when fn throws", () => {
  const { fake, token, env } = setup();
  assertThrows(
    () =>
      env.withEnvironment(token, () => {
        throw new Error("CreateProcessAsUserW failed");
      }),
    Error,
    /CreateProcessAsUserW failed/,
  );
  fake.assertAllFreed();
});

Deno.test("userenv: withEnvironment waits for an async fn", async () => {
  const { fake, token, env } = setup();
  const pending = env.withEnvironment(token, async (block) => {
    await Promise.resolve();
    assert(fake.heap.find(block), "still live while fn runs");
    return "started";
  });
  assertEquals(fake.heap.outstanding().length, 1);
  assertEquals(await pending, "started");
  fake.assertAllFreed();
  await assertRejects(
    () =>
      env.withEnvironment(token, async () => {
        await Promise.resolve();
        throw new Error("boom");
      }),
    Error,
    /boom/,
  );
  fake.assertAllFreed();
});

Deno.test("userenv: CreateEnvironmentBlock failure carries the last error", () => {
  const { k32, fake, env } = setup();
  const closed = k32.createHandle("token");
  k32.symbols.CloseHandle(closed);
  assertThrows(
    () => env.environmentStrings(closed),
    Win32Error,
    /CreateEnvironmentBlock failed: ERROR_INVALID_HANDLE \(6\)/,
  );
  assertEquals(fake.heap.all(), []);
});

/** Whether the fake still has the profile, as the ProfileList key would say. */
function remains(fake: FakeUserEnv): DeleteProfileOptions {
  return { profileExists: (sid) => fake.profileExists(sid) };
}

Deno.test("userenv: deleteProfile deletes off the event loop", async () => {
  const { fake, env } = setup();
  fake.addProfile(SID, { path: "C:\\Users\\ws-pool-01" });
  const asked: string[] = [];
  const pending = env.deleteProfile(SID, {
    profileExists: (sid) => {
      asked.push(sid);
      return true;
    },
  });
  assert(pending instanceof Promise);
  assertEquals(await pending, true);
  assertEquals(fake.profiles.has(SID), false);
  assertEquals(fake.deletes, [SID]);
  assertEquals(asked, [], "asked only after a failure");
});

Deno.test("userenv: deleteProfile of a missing profile is false, with one call", async () => {
  const { k32, fake, env } = setup();
  const calls = k32.getLastErrorCalls;
  assertEquals(await env.deleteProfile(SID, remains(fake)), false);
  // Decided by the profile being gone: no second (synchronous) delete, and
  // no last error read on this thread (it is the pool thread's).
  assertEquals(fake.deletes, [SID]);
  assertEquals(k32.getLastErrorCalls, calls);
});

Deno.test("userenv: deleteProfile of a profile still there fails naming the SID, without a code", async () => {
  const { k32, fake, env } = setup();
  fake.addProfile(SID, {
    path: "C:\\Users\\ws-pool-01",
    failWith: ERROR_ACCESS_DENIED,
  });
  // A value left by something else on this thread must not be reported.
  k32.lastError = ERROR_FILE_NOT_FOUND;
  const e = await assertRejects(
    () => env.deleteProfile(SID, remains(fake)),
    Win32Error,
    /^DeleteProfileW failed \(its error code is not readable.*\); the profile of S-1-5-21-1111111111-2222222222-3333333333-1001 is still there$/,
  );
  assertEquals((e as Win32Error).code, undefined);
  assert(fake.profiles.has(SID));
  assertEquals(fake.deletes, [SID], "not retried synchronously");
});

Deno.test("userenv: a failure whose profile is gone afterwards is false", async () => {
  const { fake } = setup();
  fake.addProfile(SID, { path: "C:\\Users\\ws-pool-01" });
  const symbols: UserEnvSymbols = {
    ...fake.symbols,
    // Fails, yet the profile is gone by the time anyone looks.
    DeleteProfileW: () => {
      fake.profiles.delete(SID);
      return Promise.resolve(0);
    },
  };
  const k32 = new FakeKernel32();
  const env = new UserEnv(symbols, new Kernel32(k32.symbols));
  assertEquals(await env.deleteProfile(SID, remains(fake)), false);
  // The check may be asynchronous (a registry read off the event loop).
  fake.addProfile(SID, { path: "C:\\Users\\ws-pool-01", failWith: 5 });
  await assertRejects(
    () =>
      new UserEnv(fake.symbols, new Kernel32(k32.symbols)).deleteProfile(
        SID,
        { profileExists: (sid) => Promise.resolve(fake.profileExists(sid)) },
      ),
    Win32Error,
    /still there/,
  );
});

Deno.test("userenv: deleteProfile checks the SID string first", async () => {
  const { fake, env } = setup();
  await assertRejects(
    () => env.deleteProfile("ws-pool-01", remains(fake)),
    TypeError,
    /invalid SID string "ws-pool-01"/,
  );
  await assertRejects(
    () => env.deleteProfile("S-1-5-21-1\0", remains(fake)),
    TypeError,
  );
  assertEquals(fake.deletes, []);
});

Deno.test("userenv: profilesDirectory asks for the size, then reads", () => {
  const { fake, env } = setup();
  assertEquals(env.profilesDirectory(), "C:\\Users");
  fake.profilesDirectory = "D:\\Profiles\\ü";
  assertEquals(env.profilesDirectory(), "D:\\Profiles\\ü");
});

Deno.test("userenv: profilesDirectory sizes from the count returned, whatever the last error reads", () => {
  const { k32, fake, env } = setup();
  // The runtime overwrote the thread's last error before it was read.
  k32.overwrittenLastError = 0;
  fake.profilesDirectory = "E:\\" + "p".repeat(300);
  assertEquals(env.profilesDirectory(), fake.profilesDirectory);
});

Deno.test("userenv: profilesDirectory reports unexpected failures", () => {
  const { k32, fake } = setup();
  const symbols: UserEnvSymbols = {
    ...fake.symbols,
    GetProfilesDirectoryW: () => k32.fail(ERROR_ACCESS_DENIED),
  };
  assertThrows(
    () => new UserEnv(symbols, new Kernel32(k32.symbols)).profilesDirectory(),
    Win32Error,
    /GetProfilesDirectoryW failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  // A size that keeps growing is not chased for ever.
  let grow = 10;
  const growing: UserEnvSymbols = {
    ...fake.symbols,
    GetProfilesDirectoryW: (_dir, size) => {
      new DataView((size as Uint32Array).buffer).setUint32(0, grow += 10, true);
      return k32.fail(ERROR_INSUFFICIENT_BUFFER);
    },
  };
  assertThrows(
    () => new UserEnv(growing, new Kernel32(k32.symbols)).profilesDirectory(),
    Win32Error,
    /ERROR_INSUFFICIENT_BUFFER/,
  );
});

Deno.test("userenv: a session's user token gives that user's environment", () => {
  const k32 = new FakeKernel32();
  const kernel32 = new Kernel32(k32.symbols);
  const sessions = new FakeWtsApi32(k32);
  sessions.addSession({
    id: 5,
    winStation: "RDP-Tcp#4",
    state: 0,
    user: "ws-pool-04",
    environment: ["USERNAME=ws-pool-04"],
  });
  const fake = new FakeUserEnv(k32);
  const token = new WtsApi32(sessions.symbols, kernel32).userToken(5);
  const env = new UserEnv(fake.symbols, kernel32);
  assert(env.environmentStrings(token).includes("USERNAME=ws-pool-04"));
  kernel32.closeHandle(token);
  k32.assertAllClosed();
  fake.assertAllFreed();
});
