/**
 * Tests for `mod/platform/linux/streamer_runtime.ts`: `readableByAll` on real
 * modes; with `otherUsers: false` the own command is used and nothing is
 * written; and (root) with `otherUsers: true` a world-readable Deno cache is
 * seeded from this one in the given folder and a real test user runs the
 * returned command (held to the lock file and the cache; `-version`, from its
 * home) with the returned environment. A private copy of the checkout (root)
 * is staged where every user can read it.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { type CommandResult, runCommand } from "../../support/command.ts";
import { exists, withTempDir } from "../../support/fs.ts";
import { withTestUser } from "../../support/pool_users.ts";
import { createLogger, type Logger } from "../../../mod/log/mod.ts";
import type { UserEntry } from "../../../mod/platform/linux/accounts.ts";
import {
  makeReadableByAll,
  ownDenoDirectory,
  prepareStreamerRuntime,
  readableByAll,
  STAGED_ENTRIES,
  type StreamerRuntime,
} from "../../../mod/platform/linux/streamer_runtime.ts";
import {
  lockedOffline,
  selfCommand,
} from "../../../mod/platform/self_command.ts";

const ROOT = Deno.uid() === 0;
const CHECKOUT = new URL("../../../", import.meta.url).pathname.replace(
  /\/$/,
  "",
);
const VERSION = JSON.parse(
  Deno.readTextFileSync(`${CHECKOUT}/deno.json`),
).version as string;

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger({ format: "json", sink: (l) => lines.push(l) }),
  };
}

/** A temp folder every user can traverse; removed by the callback's end. */
function withOpenTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(fn, { prefix: "webstream-runtime-", mode: 0o755 });
}

Deno.test("readableByAll: world-readable file below traversable folders", async () => {
  await withOpenTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.chmod(`${dir}/a`, 0o711);
    await Deno.chmod(`${dir}/a/b`, 0o755);
    const file = `${dir}/a/b/main.ts`;
    await Deno.writeTextFile(file, "// x\n");
    await Deno.chmod(file, 0o644);
    assertEquals(await readableByAll(file), true);

    // Not readable by others.
    await Deno.chmod(file, 0o640);
    assertEquals(await readableByAll(file), false);
    await Deno.chmod(file, 0o644);

    // A folder on the way that others cannot traverse.
    await Deno.chmod(`${dir}/a`, 0o754);
    assertEquals(await readableByAll(file), false);
    await Deno.chmod(`${dir}/a`, 0o755);
    assertEquals(await readableByAll(file), true);

    assertEquals(await readableByAll(`${dir}/a/b/missing.ts`), false);
  });
});

Deno.test("readableByAll: a private temp folder hides its files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "x");
    await Deno.chmod(`${dir}/f`, 0o644);
    // makeTempDir folders are 0700.
    assertEquals(await readableByAll(`${dir}/f`), false);
  }, { prefix: "webstream-runtime-" });
});

Deno.test("prepareStreamerRuntime: own users get the own command and this process's Deno cache", async () => {
  await withOpenTempDir(async (dir) => {
    const { logger, lines } = recordingLogger();
    const runtime = await prepareStreamerRuntime({
      otherUsers: false,
      stageDirectory: `${dir}/stage`,
      denoDirectory: `${dir}/deno`,
      logger,
    });
    assertEquals(runtime, {
      command: selfCommand(),
      env: { DENO_DIR: ownDenoDirectory(), DENO_NO_UPDATE_CHECK: "1" },
    });
    // The cache named is the one this test process itself runs from.
    assert(await exists(`${ownDenoDirectory()}/npm`));
    assertEquals(await exists(`${dir}/stage`), false);
    assertEquals(await exists(`${dir}/deno`), false);
    assertEquals(lines, []);
  });
});

/** Paths below `root` that others cannot read (files) or enter (folders). */
async function notWorldReadable(root: string): Promise<string[]> {
  const bad: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const info = await Deno.lstat(path);
    if (info.isSymlink) return;
    const need = info.isDirectory ? 0o005 : 0o004;
    if ((info.mode! & need) !== need) bad.push(path);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await visit(`${path}/${entry.name}`);
      }
    }
  };
  await visit(root);
  return bad;
}

/** Paths below `root` owned by `uid`. */
async function ownedBy(root: string, uid: number): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const info = await Deno.lstat(path);
    if (info.uid === uid) out.push(path);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await visit(`${path}/${entry.name}`);
      }
    }
  };
  await visit(root);
  return out;
}

/** Runs `runtime`'s webstream as `user` from its home; returns its output. */
async function webstreamAs(
  user: UserEntry,
  runtime: StreamerRuntime,
  args: string[],
): Promise<CommandResult> {
  const { command, prefix } = runtime.command;
  return await runCommand(command, {
    args: [...prefix, ...args],
    uid: user.uid,
    gid: user.gid,
    cwd: user.home,
    env: {
      HOME: user.home,
      USER: user.name,
      PATH: "/usr/local/bin:/usr/bin:/bin",
      ...runtime.env,
    },
    clearEnv: true,
  });
}

Deno.test({
  name: "prepareStreamerRuntime: other users get a shared cache they can run",
  ignore: !ROOT,
  async fn(t) {
    await withOpenTempDir((dir) =>
      withTestUser("rtm", async (user) => {
        const denoDirectory = `${dir}/shared/deno`;
        const { logger } = recordingLogger();
        const runtime = await prepareStreamerRuntime({
          otherUsers: true,
          stageDirectory: `${dir}/stage`,
          denoDirectory,
          logger,
        });

        // A world-readable checkout is used as is; any other is staged.
        const open = await readableByAll(`${CHECKOUT}/main.ts`);

        await t.step(
          "the readable sources are used and the env names the cache",
          () => {
            assertEquals(
              runtime.command,
              open
                ? selfCommand()
                : selfCommand({ projectRoot: `${dir}/stage` }),
            );
            assertEquals(runtime.env, {
              DENO_DIR: denoDirectory,
              DENO_NO_UPDATE_CHECK: "1",
            });
          },
        );

        await t.step(
          "the command is held to the lock file and the cache",
          () => {
            const root = runtime.command.projectRoot!;
            const at = runtime.command.prefix.indexOf(
              `--lock=${root}/deno.lock`,
            );
            assert(at > 0, runtime.command.prefix.join(" "));
            assertEquals(
              runtime.command.prefix.slice(at, at + 3),
              lockedOffline(root),
            );
          },
        );

        await t.step("the cache is filled and world-readable", async () => {
          assert(await exists(`${denoDirectory}/npm`), "npm packages cached");
          assertEquals(await notWorldReadable(denoDirectory), []);
          assertEquals(await exists(`${dir}/stage`), !open);
        });

        await t.step(
          "the test user runs the command from its home",
          async () => {
            const result = await webstreamAs(user, runtime, ["-version"]);
            assertEquals(
              result.stdout,
              `webstream ${VERSION}\n`,
              result.stderr,
            );
            assertEquals(result.code, 0);
          },
        );

        await t.step("npm packages load from the shared cache", async () => {
          // `config check` needs zod and yaml, which come from npm.
          const config = `${dir}/webstream.yaml`;
          await Deno.writeTextFile(config, "{}\n");
          await Deno.chmod(config, 0o644);
          const result = await webstreamAs(user, runtime, [
            "config",
            "check",
            config,
          ]);
          assertEquals(result.code, 0, result.stderr);
          assert(result.stdout.startsWith(`${config}: valid\n`));
          // The user neither wrote to the shared cache nor made its own.
          assertEquals(await ownedBy(denoDirectory, user.uid), []);
          assertEquals(await exists(`${user.home}/.cache/deno`), false);
        });
      })
    );
  },
});

Deno.test({
  name: "prepareStreamerRuntime: a private checkout is staged for other users",
  ignore: !ROOT,
  async fn() {
    await withOpenTempDir((dir) =>
      withTestUser("stg", async (user) => {
        // A copy of the checkout that other users cannot reach.
        const privateRoot = `${dir}/private/webstream`;
        await Deno.mkdir(privateRoot, { recursive: true });
        await Deno.chmod(`${dir}/private`, 0o700);
        for (const entry of STAGED_ENTRIES) {
          if (!await exists(`${CHECKOUT}/${entry}`)) continue;
          const cp = await new Deno.Command("cp", {
            args: ["-R", `${CHECKOUT}/${entry}`, `${privateRoot}/`],
          }).output();
          assert(cp.success);
        }
        const stageDirectory = `${dir}/stage`;
        const denoDirectory = `${dir}/deno`;
        // The copy's own module resolves its own checkout, so run it there.
        const probe = `${privateRoot}/probe.ts`;
        await Deno.writeTextFile(
          probe,
          `import { createLogger } from "./mod/log/mod.ts";
import { prepareStreamerRuntime } from "./mod/platform/linux/streamer_runtime.ts";
const runtime = await prepareStreamerRuntime({
  otherUsers: true,
  stageDirectory: ${JSON.stringify(stageDirectory)},
  denoDirectory: ${JSON.stringify(denoDirectory)},
  logger: createLogger({ format: "json", sink: () => {} }),
});
console.log(JSON.stringify(runtime));
`,
        );
        const out = await runCommand(Deno.execPath(), {
          args: [
            "run",
            "-A",
            ...lockedOffline(privateRoot),
            `--config=${privateRoot}/deno.json`,
            probe,
          ],
        });
        assert(out.ok, out.stderr);
        const runtime: StreamerRuntime = JSON.parse(out.stdout);

        assertEquals(runtime.command.projectRoot, stageDirectory);
        assertEquals(
          runtime.command.prefix.at(-1),
          `${stageDirectory}/main.ts`,
        );
        assertEquals(await readableByAll(`${stageDirectory}/main.ts`), true);
        assertEquals(await notWorldReadable(stageDirectory), []);
        // The probe is not one of the staged entries.
        assertEquals(await exists(`${stageDirectory}/probe.ts`), false);
        const result = await webstreamAs(user, runtime, ["-version"]);
        assertEquals(result.stdout, `webstream ${VERSION}\n`, result.stderr);
      })
    );
  },
});

Deno.test("makeReadableByAll: a+rX through a tree, links left alone", async () => {
  await withOpenTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/tree/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/tree/sub/data`, "x");
    await Deno.writeTextFile(`${dir}/tree/tool`, "#!/bin/sh\n");
    await Deno.chmod(`${dir}/tree/sub/data`, 0o600);
    await Deno.chmod(`${dir}/tree/tool`, 0o700);
    await Deno.chmod(`${dir}/tree/sub`, 0o700);
    await Deno.writeTextFile(`${dir}/outside`, "y");
    await Deno.chmod(`${dir}/outside`, 0o600);
    await Deno.symlink(`${dir}/outside`, `${dir}/tree/link`);
    await makeReadableByAll(`${dir}/tree`);
    const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;
    assertEquals(await mode(`${dir}/tree/sub`), 0o755);
    assertEquals(await mode(`${dir}/tree/sub/data`), 0o644);
    assertEquals(await mode(`${dir}/tree/tool`), 0o755);
    assertEquals(
      await mode(`${dir}/outside`),
      0o600,
      "a link's target is not touched",
    );
    // A path that does not exist is not an error (it vanished meanwhile).
    await makeReadableByAll(`${dir}/gone`);
  });
});
