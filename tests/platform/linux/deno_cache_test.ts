/**
 * Tests for `mod/platform/linux/deno_cache.ts`: the lock file's npm packages
 * (scoped names, peer suffixes); seeding copies exactly the locked versions
 * (and their `registry.json`) from one cache folder tree into another, once,
 * leaving other versions behind; and the check against the lock file passes
 * on this process's cache and on a cache seeded from it, and on an empty
 * cache fails with an error naming the cache, having downloaded nothing.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { exists, withTempDir } from "../../support/fs.ts";
import {
  checkDenoCache,
  DenoCacheError,
  lockedNpmPackages,
  seedNpmCache,
} from "../../../mod/platform/linux/deno_cache.ts";
import { ownDenoDirectory } from "../../../mod/platform/linux/streamer_runtime.ts";
import { selfCommand } from "../../../mod/platform/self_command.ts";

const CHECKOUT = new URL("../../../", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

Deno.test("lockedNpmPackages: names and versions, scoped and with peer suffixes", () => {
  const lock = JSON.stringify({
    version: "5",
    specifiers: { "npm:hono@^4.13.0": "4.13.19" },
    npm: {
      "hono@4.13.19": { integrity: "sha512-x" },
      "@jsquash/jpeg@1.6.0": { integrity: "sha512-y" },
      "react-dom@18.2.0_react@18.2.0": { integrity: "sha512-z" },
      "react-dom@18.2.0_react@18.3.0": { integrity: "sha512-z" },
    },
  });
  assertEquals(lockedNpmPackages(lock), [
    { name: "hono", version: "4.13.19" },
    { name: "@jsquash/jpeg", version: "1.6.0" },
    { name: "react-dom", version: "18.2.0" },
  ]);
  assertEquals(lockedNpmPackages(JSON.stringify({ version: "5" })), []);
});

Deno.test("lockedNpmPackages: this project's lock names hono and zod", async () => {
  const packages = lockedNpmPackages(
    await Deno.readTextFile(`${CHECKOUT}/deno.lock`),
  );
  const names = packages.map((p) => p.name);
  assert(names.includes("hono") && names.includes("zod"), names.join(" "));
});

Deno.test("seedNpmCache: the locked versions are copied once; others stay behind", async () => {
  await withTempDir(async (dir) => {
    const from = `${dir}/from`;
    const registry = `${from}/npm/registry.npmjs.org`;
    const files: Record<string, string> = {
      "hono/4.13.19/package.json": '{"name":"hono"}',
      "hono/4.13.23/package.json": '{"name":"hono","newer":true}',
      "hono/registry.json": "{}",
      "@jsquash/jpeg/1.6.0/encode.js": "export {};",
      "left-pad/1.0.0/index.js": "",
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${registry}/${path.slice(0, path.lastIndexOf("/"))}`, {
        recursive: true,
      });
      await Deno.writeTextFile(`${registry}/${path}`, text);
    }
    const lockFile = `${dir}/deno.lock`;
    await Deno.writeTextFile(
      lockFile,
      JSON.stringify({
        version: "5",
        npm: {
          "hono@4.13.19": {},
          "@jsquash/jpeg@1.6.0": {},
          "zod@4.6.7": {}, // not in `from`: stays missing
        },
      }),
    );
    const to = `${dir}/to`;
    assertEquals(await seedNpmCache({ lockFile, from, to }), 2);
    const target = `${to}/npm/registry.npmjs.org`;
    assertEquals(
      await Deno.readTextFile(`${target}/hono/4.13.19/package.json`),
      '{"name":"hono"}',
    );
    assert(await exists(`${target}/hono/registry.json`));
    assert(await exists(`${target}/@jsquash/jpeg/1.6.0/encode.js`));
    assertEquals(await exists(`${target}/hono/4.13.23`), false);
    assertEquals(await exists(`${target}/left-pad`), false);
    assertEquals(await exists(`${target}/zod`), false);
    // No temporary copies are left.
    const left: string[] = [];
    for await (const e of Deno.readDir(`${target}/hono`)) left.push(e.name);
    assertEquals(left.sort(), ["4.13.19", "registry.json"]);

    // Again: what is there is kept, nothing is copied.
    await Deno.writeTextFile(`${target}/hono/4.13.19/package.json`, "kept");
    assertEquals(await seedNpmCache({ lockFile, from, to }), 0);
    assertEquals(
      await Deno.readTextFile(`${target}/hono/4.13.19/package.json`),
      "kept",
    );
  });
});

Deno.test("checkDenoCache: this process's cache holds what main.ts needs", async () => {
  await checkDenoCache(selfCommand(), ownDenoDirectory());
});

Deno.test("checkDenoCache: a cache seeded from this one passes; an empty one fails, fetching nothing", async () => {
  await withTempDir(async (dir) => {
    const empty = `${dir}/empty`;
    await Deno.mkdir(empty);
    const error = await assertRejects(
      () => checkDenoCache(selfCommand(), empty),
      DenoCacheError,
    );
    assert(error.message.startsWith(`the Deno cache ${empty} lacks modules`));
    assert(error.message.includes(`${CHECKOUT}/deno.lock`), error.message);
    assert(
      error.message.includes("deno install --frozen --entrypoint"),
      error.message,
    );
    // --cached-only: nothing was downloaded into it.
    assertEquals(await exists(`${empty}/npm/registry.npmjs.org/hono`), false);

    const seeded = `${dir}/seeded`;
    await seedNpmCache({
      lockFile: `${CHECKOUT}/deno.lock`,
      from: ownDenoDirectory(),
      to: seeded,
    });
    await checkDenoCache(selfCommand(), seeded);
  });
});
