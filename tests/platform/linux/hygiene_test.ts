/**
 * Tests for `mod/platform/linux/hygiene.ts` on the real filesystem:
 * `rebuildHome` wipes everything (dotfiles, nested folders, symbolic links,
 * without following a link out of the home) and copies the skeleton with
 * owner and mode 0700, and refuses `/` and one-level paths; `purgeTemp`
 * removes only the top-level entries a uid owns, in folders the test creates;
 * `applyRestrictions` (root, real test users) really denies reading, writing
 * or executing to one user while another user and root keep their access,
 * applies below a folder when recursive, and reports a missing path while
 * still applying the other restrictions.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../support/assert.ts";
import { type CommandResult, runCommand } from "../../support/command.ts";
import { testUsername } from "../../support/config.ts";
import { exists, withTempDir } from "../../support/fs.ts";
import {
  createPoolUser,
  deleteUser,
  type UserEntry,
} from "../../../mod/platform/linux/accounts.ts";
import {
  applyRestrictions,
  purgeTemp,
  rebuildHome,
} from "../../../mod/platform/linux/hygiene.ts";

const ROOT = Deno.uid() === 0;
const HYGIENE =
  new URL("../../../mod/platform/linux/hygiene.ts", import.meta.url)
    .href;

/** Every path below `root`, relative, sorted (links listed, not followed). */
async function tree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${root}${prefix}`)) {
    const rel = `${prefix}/${entry.name}`;
    out.push(rel);
    if (entry.isDirectory) out.push(...await tree(root, rel));
  }
  return out.sort();
}

/** A skeleton with a dotfile, a nested folder and a private file. */
async function makeSkeleton(dir: string): Promise<string> {
  const skel = `${dir}/skel`;
  await Deno.mkdir(`${skel}/.config/app`, { recursive: true });
  await Deno.writeTextFile(`${skel}/.bashrc`, "# skel bashrc\n");
  await Deno.writeTextFile(`${skel}/.config/app/settings.ini`, "a=1\n");
  await Deno.writeTextFile(`${skel}/private.txt`, "p\n", { mode: 0o600 });
  await Deno.chmod(`${skel}/private.txt`, 0o600);
  return skel;
}

/** A used home: dotfiles, nested folders, and links pointing outside it. */
async function makeUsedHome(dir: string): Promise<{
  home: string;
  outsideFile: string;
  outsideDir: string;
}> {
  const home = `${dir}/homes/user`;
  const outsideDir = `${dir}/outside`;
  const outsideFile = `${outsideDir}/precious.txt`;
  await Deno.mkdir(outsideDir, { recursive: true });
  await Deno.writeTextFile(outsideFile, "keep me\n");
  await Deno.mkdir(`${home}/deep/er/est`, { recursive: true });
  await Deno.writeTextFile(`${home}/.history`, "secret commands\n");
  await Deno.writeTextFile(`${home}/.bashrc`, "# changed by the user\n");
  await Deno.writeTextFile(`${home}/deep/er/est/file.bin`, "x");
  await Deno.mkdir(`${home}/.cache/thing`, { recursive: true });
  await Deno.symlink(outsideFile, `${home}/link-to-file`);
  await Deno.symlink(outsideDir, `${home}/link-to-dir`);
  await Deno.symlink(outsideDir, `${home}/deep/link-to-dir`);
  return { home, outsideFile, outsideDir };
}

Deno.test("rebuildHome: wipes the home and copies the skeleton", async () => {
  await withTempDir(async (dir) => {
    const skel = await makeSkeleton(dir);
    const { home, outsideFile, outsideDir } = await makeUsedHome(dir);

    await rebuildHome(home, skel);

    assertEquals(await tree(home), await tree(skel));
    assertEquals(await Deno.readTextFile(`${home}/.bashrc`), "# skel bashrc\n");
    assertEquals(
      await Deno.readTextFile(`${home}/.config/app/settings.ini`),
      "a=1\n",
    );
    // cp -a keeps the skeleton's modes.
    assertEquals((await Deno.stat(`${home}/private.txt`)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);
    // The links were removed, not followed.
    assertEquals(await Deno.readTextFile(outsideFile), "keep me\n");
    assertEquals(await tree(outsideDir), ["/precious.txt"]);
  });
});

Deno.test("rebuildHome: creates a missing home; a missing skeleton leaves it empty", async () => {
  await withTempDir(async (dir) => {
    const home = `${dir}/homes/new`;
    await rebuildHome(home, `${dir}/no-such-skeleton`);
    assertEquals(await tree(home), []);
    assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);

    await Deno.writeTextFile(`${home}/.left-behind`, "x");
    await rebuildHome(home, `${dir}/no-such-skeleton`);
    assertEquals(await tree(home), []);
  });
});

Deno.test({
  name: "rebuildHome: gives the rebuilt home to its owner",
  ignore: !ROOT,
  async fn() {
    await withTempDir(async (dir) => {
      const skel = await makeSkeleton(dir);
      const { home } = await makeUsedHome(dir);
      const owner = { uid: 4_242_420, gid: 4_242_421 };
      await rebuildHome(home, skel, owner);
      for (const rel of ["", ...await tree(home)]) {
        const info = await Deno.lstat(`${home}${rel}`);
        assertEquals([info.uid, info.gid], [owner.uid, owner.gid], rel);
      }
      assertEquals((await Deno.stat(home)).mode! & 0o777, 0o700);
      // The skeleton itself keeps its owner.
      assertEquals((await Deno.stat(`${skel}/.bashrc`)).uid, 0);
    });
  },
});

Deno.test("rebuildHome: refuses / , one-level and relative paths", async () => {
  // A harmless path is refused in-process.
  await assertRejects(
    () => rebuildHome("relative/home/dir", "/etc/skel"),
    Error,
    /refusing to rebuild suspicious home/,
  );
  // The dangerous ones run in a child without write permission, so that a
  // regression fails with a permission error instead of wiping the machine.
  await withTempDir(async (dir) => {
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import { rebuildHome } from ${JSON.stringify(HYGIENE)};
const out: string[] = [];
for (const home of JSON.parse(Deno.args[0])) {
  try {
    await rebuildHome(home, "/nonexistent-skeleton");
    out.push("accepted");
  } catch (error) {
    out.push((error as Error).message);
  }
}
console.log(JSON.stringify(out));
`,
    );
    const homes = ["/", "//", "", "/home", "/tmp/", "/root", "home/x"];
    const result = await runCommand(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--no-config",
        script,
        JSON.stringify(homes),
      ],
    });
    assert(result.ok, result.stderr);
    const messages: string[] = JSON.parse(result.stdout);
    assertEquals(messages.length, homes.length);
    messages.forEach((message, i) =>
      assertMatch(message, /^refusing to rebuild suspicious home/, homes[i])
    );
  });
  assert(await exists("/root") && await exists("/tmp"));
});

Deno.test("purgeTemp: removes only the uid's entries in the given folders", async () => {
  await withTempDir(async (dir) => {
    const a = `${dir}/a`;
    const b = `${dir}/b`;
    await Deno.mkdir(`${a}/nested/deeper`, { recursive: true });
    await Deno.mkdir(b);
    await Deno.writeTextFile(`${a}/file`, "x");
    await Deno.writeTextFile(`${a}/.hidden`, "x");
    await Deno.writeTextFile(`${a}/nested/deeper/f`, "x");
    await Deno.writeTextFile(`${b}/other`, "x");
    const before = await tree(dir);
    const unused = 4_242_999;

    // A uid owning nothing: nothing goes.
    assertEquals(await purgeTemp(unused, [a, b]), 0);
    assertEquals(await tree(dir), before);

    // This process's uid owns them all; a missing folder is skipped.
    const removed = await purgeTemp(Deno.uid()!, [a, `${dir}/missing`, b]);
    assertEquals(removed, 4);
    assertEquals(await tree(dir), ["/a", "/b"]);
  });
});

Deno.test({
  name:
    "purgeTemp: other owners' entries, nested entries and link targets stay",
  ignore: !ROOT,
  async fn() {
    await withTempDir(async (dir) => {
      const uid = 4_242_430;
      const other = 4_242_431;
      const tmp = `${dir}/tmp`;
      const shm = `${dir}/shm`;
      const keep = `${dir}/keep`;
      await Deno.mkdir(tmp);
      await Deno.mkdir(shm);
      await Deno.mkdir(keep);
      await Deno.writeTextFile(`${keep}/target`, "keep me\n");
      const own = async (path: string, owner: number) =>
        await Deno.chown(path, owner, owner);

      // The user's: a file, a folder (with someone else's file in it), a link.
      await Deno.writeTextFile(`${tmp}/mine.txt`, "x");
      await own(`${tmp}/mine.txt`, uid);
      await Deno.mkdir(`${tmp}/.X-mine`);
      await Deno.writeTextFile(`${tmp}/.X-mine/inner`, "x");
      await own(`${tmp}/.X-mine`, uid);
      await Deno.symlink(`${keep}/target`, `${shm}/link`);
      // chown -h changes the link itself, not its target.
      const lchown = await new Deno.Command("chown", {
        args: ["-h", `${uid}:${uid}`, `${shm}/link`],
      }).output();
      assert(lchown.success);
      // Someone else's: a file, a folder holding one of the user's files,
      // and the link's target (root's).
      await Deno.writeTextFile(`${tmp}/theirs.txt`, "x");
      await own(`${tmp}/theirs.txt`, other);
      await Deno.mkdir(`${shm}/shared`);
      await own(`${shm}/shared`, other);
      await Deno.writeTextFile(`${shm}/shared/mine-inside`, "x");
      await own(`${shm}/shared/mine-inside`, uid);

      assertEquals(await purgeTemp(uid, [tmp, shm]), 3);

      assertEquals(await tree(tmp), ["/theirs.txt"]);
      assertEquals(await tree(shm), ["/shared", "/shared/mine-inside"]);
      assertEquals(await Deno.readTextFile(`${keep}/target`), "keep me\n");
    });
  },
});

/** Runs `command` as `user`, from `/`, in a minimal environment. */
async function runAs(
  user: UserEntry,
  command: string,
  args: string[],
): Promise<CommandResult> {
  return await runCommand(command, {
    args,
    uid: user.uid,
    gid: user.gid,
    cwd: "/",
    env: { PATH: "/usr/bin:/bin", HOME: user.home },
    clearEnv: true,
  });
}

async function canRead(user: UserEntry, path: string): Promise<boolean> {
  return (await runAs(user, "cat", [path])).ok;
}

/** Executes `path` through a shell, so a refused exec is an exit status. */
async function runProgram(
  user: UserEntry,
  path: string,
): Promise<CommandResult> {
  return await runAs(user, "sh", ["-c", 'exec "$0"', path]);
}

async function canWrite(user: UserEntry, path: string): Promise<boolean> {
  return (await runAs(user, "sh", ["-c", 'echo more >> "$0"', path])).ok;
}

Deno.test({
  name: "applyRestrictions: denies a real user what it says, and no more",
  ignore: !ROOT,
  async fn(t) {
    const prefix = testUsername();
    const names = [`${prefix}acla`, `${prefix}aclb`];
    const dir = await Deno.makeTempDir({ prefix: "webstream-acl-" });
    const users: UserEntry[] = [];
    try {
      const skeleton = `${dir}/skel`;
      await Deno.mkdir(skeleton);
      for (const name of names) {
        users.push(await createPoolUser(name, "Acl-Passw0rd", { skeleton }));
      }
      const [pool, other] = users;
      // Other users must be able to reach the test files at all.
      await Deno.chmod(dir, 0o755);

      const secret = `${dir}/secret.txt`;
      await Deno.writeTextFile(secret, "top secret\n", { mode: 0o644 });
      await Deno.chmod(secret, 0o644);
      const shared = `${dir}/shared.txt`;
      await Deno.writeTextFile(shared, "shared\n");
      await Deno.chmod(shared, 0o666);
      const groupFile = `${dir}/group.txt`;
      await Deno.writeTextFile(groupFile, "group\n");
      await Deno.chown(groupFile, 0, pool.gid);
      await Deno.chmod(groupFile, 0o660);
      const tool = `${dir}/tool.sh`;
      await Deno.writeTextFile(tool, "#!/bin/sh\necho ran\n");
      await Deno.chmod(tool, 0o755);
      const deep = `${dir}/tree`;
      await Deno.mkdir(`${deep}/sub`, { recursive: true });
      await Deno.writeTextFile(`${deep}/top.txt`, "top\n");
      await Deno.writeTextFile(`${deep}/sub/nested.txt`, "nested\n");
      const flat = `${dir}/flat`;
      await Deno.mkdir(flat);
      await Deno.writeTextFile(`${flat}/inside.txt`, "inside\n");
      for (
        const path of [deep, `${deep}/sub`, flat]
      ) await Deno.chmod(path, 0o755);
      for (
        const path of [
          `${deep}/top.txt`,
          `${deep}/sub/nested.txt`,
          `${flat}/inside.txt`,
        ]
      ) await Deno.chmod(path, 0o644);

      await t.step("before: both users have full access", async () => {
        for (const user of users) {
          assert(await canRead(user, secret));
          assert(await canRead(user, `${deep}/sub/nested.txt`));
          assert((await runProgram(user, tool)).ok);
        }
      });

      const missing = `${dir}/does-not-exist`;
      const problems = await applyRestrictions([
        { path: secret, deny: ["read", "write", "execute"], recursive: false },
        { path: missing, deny: ["read"], recursive: false },
        { path: shared, deny: ["write"], recursive: false },
        { path: groupFile, deny: ["write"], recursive: false },
        { path: tool, deny: ["execute"], recursive: false },
        { path: deep, deny: ["read"], recursive: true },
        { path: flat, deny: ["read"], recursive: false },
      ], { name: pool.name, gid: pool.gid });

      await t.step("a missing path is reported, once", () => {
        assertEquals(problems.length, 1, problems.join("\n"));
        assert(problems[0].startsWith(`${missing}: `), problems[0]);
      });

      await t.step("deny read: the user cannot read, others can", async () => {
        const result = await runAs(pool, "cat", [secret]);
        assertEquals(result.ok, false);
        assertMatch(result.stderr, /Permission denied/);
        assertEquals(
          (await runAs(other, "cat", [secret])).stdout,
          "top secret\n",
        );
        assertEquals(await Deno.readTextFile(secret), "top secret\n");
      });

      await t.step("deny write only: the user still reads", async () => {
        assert(await canRead(pool, shared));
        assertEquals(await canWrite(pool, shared), false);
        assert(await canWrite(other, shared));
        assertEquals(await Deno.readTextFile(shared), "shared\nmore\n");
      });

      await t.step(
        "group-owned file: group read kept, write denied",
        async () => {
          assert(await canRead(pool, groupFile));
          assertEquals(await canWrite(pool, groupFile), false);
          // Not in the group: the other user never had access.
          assertEquals(await canRead(other, groupFile), false);
        },
      );

      await t.step(
        "deny execute: the user cannot run it, others can",
        async () => {
          assertEquals((await runProgram(pool, tool)).ok, false);
          assert(await canRead(pool, tool));
          assertEquals((await runProgram(other, tool)).stdout, "ran\n");
        },
      );

      await t.step("recursive: applies to everything below", async () => {
        assertEquals(await canRead(pool, `${deep}/top.txt`), false);
        assertEquals(await canRead(pool, `${deep}/sub/nested.txt`), false);
        assertEquals((await runAs(pool, "ls", [`${deep}/sub`])).ok, false);
        assertEquals(
          (await runAs(other, "cat", [`${deep}/sub/nested.txt`])).stdout,
          "nested\n",
        );
      });

      await t.step("not recursive: only the folder itself", async () => {
        assertEquals((await runAs(pool, "ls", [flat])).ok, false);
        // Traversal is kept, so a known name below is still readable.
        assertEquals(
          (await runAs(pool, "cat", [`${flat}/inside.txt`])).stdout,
          "inside\n",
        );
        assertEquals((await runAs(other, "ls", [flat])).stdout, "inside.txt\n");
      });

      await t.step("the ACL names the user", async () => {
        const acl = await runCommand("getfacl", {
          args: ["--omit-header", "--numeric", secret],
        });
        assertMatch(acl.stdout, new RegExp(`^user:${pool.uid}:---$`, "m"));
      });
    } finally {
      for (const name of names) await deleteUser(name).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
