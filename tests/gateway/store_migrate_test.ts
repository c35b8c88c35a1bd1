/**
 * `webstream store migrate`, run as the real command (`deno run
 * --cached-only main.ts`, so nothing it needs is fetched) against a real
 * PostgreSQL cluster: the schema is created, then found up to date; a SQLite
 * store is copied once (its hosts, sessions and cookie secret) and a second
 * copy is refused; no `gateway.store.url`, a server nobody answers on and a
 * missing SQLite file are errors naming what was wrong (exit code 1), and a
 * failed copy leaves the database empty.
 *
 * @module
 */
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import {
  openPostgresStore,
  POSTGRES_SCHEMA_VERSION,
} from "../../mod/gateway/store_postgres.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { runCommand } from "../support/command.ts";
import { withTempDir } from "../support/fs.ts";
import { freePort } from "../support/ports.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { exerciseStore, host } from "../support/store_contract.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs `webstream store migrate …` with the store URL from the environment. */
function migrate(url: string | undefined, args: string[] = []) {
  return runCommand(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", MAIN, "store", "migrate", ...args],
    env: {
      NO_COLOR: "1",
      ...(url ? { WEBSTREAM_STORE_URL: url } : {}),
    },
    clearEnv: false,
  });
}

Deno.test({
  name: "webstream store migrate",
  ignore: !hasPostgres(),
  async fn(t) {
    const cluster = await startPostgres();
    try {
      await t.step("creates the schema, then finds it up to date", async () => {
        const url = await cluster.createDatabase();
        const first = await migrate(url);
        assertEquals(first.code, 0, first.stderr);
        assertMatch(
          first.stdout,
          new RegExp(`/test_\\d+_\\d+: schema 0 → ${POSTGRES_SCHEMA_VERSION}`),
        );
        const second = await migrate(url);
        assertEquals(second.code, 0, second.stderr);
        assertMatch(
          second.stdout,
          new RegExp(`schema ${POSTGRES_SCHEMA_VERSION}, up to date`),
        );
      });

      await t.step("copies a SQLite store once", async () => {
        await withTempDir(async (dir) => {
          const path = `${dir}/gateway.sqlite`;
          const sqlite = openSqliteStore(path);
          await exerciseStore(asyncStore(sqlite));
          sqlite.close();
          const url = await cluster.createDatabase();
          const copied = await migrate(url, ["-from-sqlite", path]);
          assertEquals(copied.code, 0, copied.stderr);
          assertMatch(
            copied.stdout,
            /copied .*gateway\.sqlite: 1 hosts, 2 sessions, 2 revocations, 4 settings/,
          );
          const store = await openPostgresStore(url);
          try {
            assertEquals(await store.loadHosts(), [host("a", true)]);
            assertEquals(await store.getSetting("cookieSecret"), "second");
          } finally {
            await store.close();
          }
          const again = await migrate(url, ["-from-sqlite", path]);
          assertEquals(again.code, 1);
          assertMatch(
            again.stderr,
            /already holds hosts, sessions or settings/,
          );
        });
      });

      await t.step("bad input is named", async () => {
        const none = await migrate(undefined);
        assertEquals(none.code, 1);
        assertMatch(none.stderr, /gateway\.store\.url is not set/);

        const port = freePort();
        const dead = await migrate(`postgres://u@127.0.0.1:${port}/farm`);
        assertEquals(dead.code, 1);
        assertMatch(dead.stderr, new RegExp(`127\\.0\\.0\\.1:${port}/farm`));
        assertMatch(dead.stderr, /ECONNREFUSED/);

        const url = await cluster.createDatabase();
        const missing = await migrate(url, ["-from-sqlite", "/nowhere.db"]);
        assertEquals(missing.code, 1);
        assertMatch(missing.stderr, /-from-sqlite \/nowhere\.db: no SQLite/);
        const store = await openPostgresStore(url);
        try {
          assert((await store.loadHosts()).length === 0, "nothing copied");
        } finally {
          await store.close();
        }
      });
    } finally {
      await cluster.stop();
    }
  },
});
