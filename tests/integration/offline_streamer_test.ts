/**
 * Nothing is fetched at run time. A real `webstream -sm` runs in a new
 * network namespace holding only its own loopback, with no route anywhere:
 * its streamer starts from the Deno cache and answers a viewer through the
 * relay (a probe run inside the namespace with `nsenter`), and the
 * streamer's command line holds it to the lock file and the cache
 * (`--lock=…/deno.lock --frozen --cached-only`, never `--no-lock`). Once with
 * real pool users (staged sources if need be, the shared cache seeded from
 * this one), once with the current-user pool on a fresh Deno cache that holds
 * only the lock file's packages, as a new machine's would after its first
 * `deno run`.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { runCommand } from "../support/command.ts";
import { type TestConfig, writeTestConfig } from "../support/config.ts";
import { withTempDir } from "../support/fs.ts";
import { poolUsers } from "../support/pool_users.ts";
import { descendants } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";
import { startWebstream } from "../support/webstream_process.ts";
import { seedNpmCache } from "../../mod/platform/linux/deno_cache.ts";
import { ownDenoDirectory } from "../../mod/platform/linux/streamer_runtime.ts";
import { lockedOffline } from "../../mod/platform/self_command.ts";

const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const PROBE = `${CHECKOUT}/tests/support/session_probe.ts`;
const ROOT = Deno.uid() === 0;

/** Runs `argv` inside the network namespace of `pid`. */
function inNamespaceOf(pid: number, argv: string[]) {
  return runCommand("nsenter", {
    args: [`--net=/proc/${pid}/ns/net`, "--", ...argv],
  });
}

/**
 * Runs `-sm` on `cfg` with no network (and `env`), and checks its streamer
 * answers from the cache alone, held to the lock file.
 */
async function offlineSession(
  t: Deno.TestContext,
  cfg: TestConfig,
  env: Record<string, string> = {},
): Promise<void> {
  // The session manager itself runs from the cache alone too.
  const sm = startWebstream(["-sm", "-config", cfg.path], {
    wrap: ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"'],
    denoFlags: lockedOffline(CHECKOUT),
    env,
  });
  try {
    await t.step("the namespace has loopback only and no route", async () => {
      // Once the wrapper has exec'd Deno, the namespace is set up.
      const exe = async () =>
        (await Deno.readTextFile(`/proc/${sm.pid}/cmdline`)).split("\0")[0];
      await waitFor(async () => await exe() === Deno.execPath(), {
        what: "the wrapper to start webstream",
      });
      assert(
        await Deno.readLink(`/proc/${sm.pid}/ns/net`) !==
          await Deno.readLink("/proc/self/ns/net"),
        "webstream runs in a network namespace of its own",
      );
      const links = await inNamespaceOf(sm.pid, ["ip", "-o", "link", "show"]);
      assertEquals(
        links.stdout.trim().split("\n").map((l) => l.split(":")[1].trim()),
        ["lo"],
      );
      const routes = await inNamespaceOf(sm.pid, ["ip", "route", "show"]);
      assertEquals(routes.stdout.trim(), "", "no route out");
    });

    await t.step(
      "the streamer answers a viewer through the relay",
      async () => {
        const probe = await inNamespaceOf(sm.pid, [
          Deno.execPath(),
          "run",
          "-A",
          "--no-prompt",
          ...lockedOffline(CHECKOUT),
          PROBE,
          `http://127.0.0.1:${cfg.base + 1}`,
        ]);
        assert(probe.ok, probe.stderr);
        const result = JSON.parse(probe.stdout.trim().split("\n").at(-1)!);
        assertEquals(
          result.status,
          200,
          `${probe.stdout} ${JSON.stringify(sm.logs.slice(-5))}`,
        );
        assertEquals(result.hello, result.sessionUuid);
      },
    );

    await t.step(
      "the streamer is held to the lock file and the cache",
      async () => {
        const streamer = (await descendants(sm.pid)).find((p) =>
          p.argv.includes("streamer")
        );
        assert(streamer, "a live streamer");
        const at = streamer.argv.findIndex((a) => a.startsWith("--lock="));
        assert(at > 0, streamer.argv.join(" "));
        const root = streamer.argv[at].slice(
          "--lock=".length,
          -"/deno.lock".length,
        );
        assertEquals(streamer.argv.slice(at, at + 3), lockedOffline(root));
        assert(!streamer.argv.includes("--no-lock"));
        // The lock file it names is the project's own.
        assertEquals(
          await Deno.readTextFile(`${root}/deno.lock`),
          await Deno.readTextFile(`${CHECKOUT}/deno.lock`),
        );
      },
    );
  } finally {
    const status = await sm.stop("SIGTERM");
    assertEquals(status.code, 0, JSON.stringify(sm.logs.slice(-5)));
  }
}

Deno.test({
  name: "offline: a pool user's streamer starts and answers",
  ignore: Deno.build.os !== "linux" || !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cfg = await writeTestConfig({ slots: 1 });
    try {
      await offlineSession(t, cfg);
    } finally {
      await cfg.remove();
      assertEquals(await poolUsers(cfg.username), []);
    }
  },
});

Deno.test({
  name:
    "offline: a current-user streamer starts and answers from a cache of the lock's packages only",
  ignore: Deno.build.os !== "linux" || !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await withTempDir(async (denoDir) => {
      // What a new machine's cache holds after its first run: the lock's
      // packages, and nothing newer.
      await seedNpmCache({
        lockFile: `${CHECKOUT}/deno.lock`,
        from: ownDenoDirectory(),
        to: denoDir,
      });
      const cfg = await writeTestConfig({
        slots: 1,
        settings: { poolAccounts: "current" },
      });
      try {
        await offlineSession(t, cfg, { DENO_DIR: denoDir });
      } finally {
        await cfg.remove();
      }
    }, { prefix: "webstream-deno-dir-" });
  },
});
