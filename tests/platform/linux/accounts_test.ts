/**
 * Tests for `mod/platform/linux/accounts.ts` against the real passwd
 * database: a pool user is created with the GECOS marker, its own group and a
 * home built from the skeleton; its password really changes in /etc/shadow
 * (and passwords that would corrupt chpasswd's input are refused); a missing
 * user looks up as undefined; deletion removes the user, group and home.
 * Creating users needs root; those tests are skipped otherwise.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
} from "../../support/assert.ts";
import { testUsername } from "../../support/config.ts";
import { exists } from "../../support/fs.ts";
import { shadowHash } from "../../support/pool_users.ts";
import {
  createPoolUser,
  deleteUser,
  lookupUser,
  POOL_GECOS,
  setPassword,
} from "../../../mod/platform/linux/accounts.ts";

const ROOT = Deno.uid() === 0;

async function getent(database: string, key: string): Promise<string> {
  const out = await new Deno.Command("getent", { args: [database, key] })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** True when `password` hashes to `hash` (perl's crypt() is libcrypt's). */
async function hashMatches(hash: string, password: string): Promise<boolean> {
  const out = await new Deno.Command("perl", {
    args: [
      "-e",
      'print crypt($ENV{PW}, $ENV{HASH}) eq $ENV{HASH} ? "yes" : "no"',
    ],
    env: { PW: password, HASH: hash },
  }).output();
  return new TextDecoder().decode(out.stdout) === "yes";
}

/** Removes a test user (and its home) if it is still there. */
async function removeTestUser(name: string): Promise<void> {
  if (await getent("passwd", name)) {
    await new Deno.Command("userdel", { args: ["--remove", name] }).output();
  }
  if (await getent("group", name)) {
    await new Deno.Command("groupdel", { args: [name] }).output();
  }
}

Deno.test("lookupUser: a missing user is undefined", async () => {
  assertEquals(await lookupUser(`${testUsername()}-missing`), undefined);
});

Deno.test("lookupUser: reads root's passwd entry", async () => {
  const root = await lookupUser("root");
  assert(root);
  assertEquals(root.name, "root");
  assertEquals(root.uid, 0);
  assertEquals(root.gid, 0);
  assertEquals(root.home, "/root");
});

Deno.test("setPassword: refuses ':' and newlines before running chpasswd", async () => {
  // These never reach chpasswd, so they are refused even without root.
  await assertRejects(
    () => setPassword("nobody", "pa:ss"),
    Error,
    /may not contain/,
  );
  await assertRejects(
    () => setPassword("nobody", "pass\nroot:x"),
    Error,
    /may not contain/,
  );
});

Deno.test({
  name: "accounts: create, set password, delete a real pool user",
  ignore: !ROOT,
  async fn(t) {
    const name = testUsername() + "acc";
    const skeleton = await Deno.makeTempDir({ prefix: "webstream-skel-" });
    try {
      await Deno.writeTextFile(`${skeleton}/.profile-marker`, "from skel\n");
      await Deno.mkdir(`${skeleton}/Desktop`);
      await Deno.writeTextFile(`${skeleton}/Desktop/readme.txt`, "hi\n");

      let user = await createPoolUser(name, "first-Passw0rd", { skeleton });

      await t.step("the user carries the pool GECOS marker", async () => {
        assertEquals(user.name, name);
        assertEquals(user.gecos, POOL_GECOS);
        const entry = (await getent("passwd", name)).split(":");
        assertEquals(entry[4], POOL_GECOS);
        // No interactive logins for pool accounts.
        assertEquals(entry[6], "/usr/sbin/nologin");
        assertEquals(Number(entry[2]), user.uid);
        assertNotEquals(user.uid, 0);
      });

      await t.step("the user has its own group", async () => {
        const group = (await getent("group", name)).split(":");
        assertEquals(group[0], name);
        assertEquals(Number(group[2]), user.gid);
      });

      await t.step("the home is built from the skeleton", async () => {
        const home = await Deno.stat(user.home);
        assert(home.isDirectory);
        assertEquals(home.uid, user.uid);
        assertEquals(
          await Deno.readTextFile(`${user.home}/.profile-marker`),
          "from skel\n",
        );
        assertEquals(
          await Deno.readTextFile(`${user.home}/Desktop/readme.txt`),
          "hi\n",
        );
        assertEquals((await Deno.stat(`${user.home}/Desktop`)).uid, user.uid);
      });

      await t.step("setPassword changes the shadow hash", async () => {
        const before = await shadowHash(name);
        assert(before && before.startsWith("$"), `hash: ${before}`);
        assert(await hashMatches(before, "first-Passw0rd"));
        await setPassword(name, "second-Passw0rd");
        const after = await shadowHash(name);
        assert(after && after.startsWith("$"), `hash: ${after}`);
        assertNotEquals(after, before);
        assert(await hashMatches(after, "second-Passw0rd"));
        assert(!await hashMatches(after, "first-Passw0rd"));
      });

      await t.step("a refused password leaves the hash alone", async () => {
        const before = await shadowHash(name);
        await assertRejects(() => setPassword(name, "a:b"), Error);
        await assertRejects(() => setPassword(name, "a\nb"), Error);
        assertEquals(await shadowHash(name), before);
      });

      await t.step("lookupUser finds the new user", async () => {
        const found = await lookupUser(name);
        assertEquals(found, user);
      });

      await t.step("deleteUser removes the user, group and home", async () => {
        const home = user.home;
        await deleteUser(name);
        assertEquals(await lookupUser(name), undefined);
        assertEquals(await getent("group", name), "");
        assert(!await exists(home), `${home} still exists`);
        assertEquals(await shadowHash(name), undefined);
      });

      await t.step("deleting a missing user is not an error", async () => {
        await deleteUser(name);
      });

      // A user whose home is already gone is still deleted.
      await t.step("deleteUser copes with a home already removed", async () => {
        user = await createPoolUser(name, "third-Passw0rd", { skeleton });
        await Deno.remove(user.home, { recursive: true });
        await deleteUser(name);
        assertEquals(await lookupUser(name), undefined);
      });
    } finally {
      await removeTestUser(name);
      await Deno.remove(skeleton, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "createPoolUser: an existing name is refused and that user is untouched",
  ignore: !ROOT,
  async fn() {
    const name = testUsername() + "dup";
    const skeleton = await Deno.makeTempDir({ prefix: "webstream-skel-" });
    try {
      const first = await createPoolUser(name, "Passw0rd-one", { skeleton });
      await assertRejects(
        () => createPoolUser(name, "Passw0rd-two", { skeleton }),
        Error,
        /useradd failed/,
      );
      // The first user is untouched.
      assertEquals(await lookupUser(name), first);
    } finally {
      await removeTestUser(name);
      await Deno.remove(skeleton, { recursive: true });
    }
  },
});
