/**
 * Slot records on a real disk: written owner-only and replaced atomically,
 * read back validated (a file that does not fit is reported with the field
 * at fault, never trusted), removed, and a write that fails is logged
 * without taking anything down.
 */
import { type SlotRecord, SlotStore } from "../../mod/pool/slot_store.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { captureLogs } from "../support/log.ts";

const record = (slot: number): SlotRecord => ({
  version: 1,
  slot,
  account: `webs0${slot}`,
  sessionUuid: "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab",
  binding: {
    sessionId: "gw-1",
    launched: ["xterm -e top"],
    apps: { top: "xterm -e top" },
    endsWithApps: true,
  },
  platform: { display: ":3", anything: [1, 2] },
});

Deno.test("a record written is read back as it was, owner-only", async () => {
  await withTempDir(async (dir) => {
    const { logger } = captureLogs();
    const store = new SlotStore(dir, logger);
    assertEquals(await store.read(1), { kind: "none" });
    await store.write(record(1));
    assertEquals(store.path(1), `${dir}/slot-01.json`);
    assertEquals((await Deno.stat(store.path(1))).mode! & 0o777, 0o600);
    assertEquals(await store.read(1), { kind: "record", record: record(1) });
    // Replaced whole: a warm session has no binding.
    await store.write({ ...record(1), binding: null });
    const read = await store.read(1);
    assert(read.kind === "record");
    assertEquals(read.record.binding, null);
    assertEquals(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["slot-01.json"],
      "no temporary file left",
    );
    await store.remove(1);
    assertEquals(await store.read(1), { kind: "none" });
    await store.remove(1); // already gone: fine
  });
});

Deno.test("a record that does not fit is reported, naming what is wrong", async () => {
  await withTempDir(async (dir) => {
    const { logger } = captureLogs();
    const store = new SlotStore(dir, logger);
    const cases: [string, RegExp][] = [
      ["{nope", /JSON/],
      [
        JSON.stringify({ ...record(1), sessionUuid: "x" }),
        /sessionUuid/,
      ],
      [
        JSON.stringify({ ...record(1), binding: { sessionId: "" } }),
        /binding\.sessionId|binding\.launched/,
      ],
      [
        JSON.stringify({ ...record(1), extra: true }),
        /unknown property "extra"/,
      ],
      [JSON.stringify(record(2)), /slot: expected 1, got 2/],
    ];
    for (const [text, problem] of cases) {
      await Deno.writeTextFile(store.path(1), text);
      const read = await store.read(1);
      assert(read.kind === "invalid", text);
      assertMatch(read.problem, problem);
    }
  });
});

Deno.test("a write that fails is logged, and later writes still happen", async () => {
  await withTempDir(async (dir) => {
    const { logger, records } = captureLogs();
    const store = new SlotStore(`${dir}/missing`, logger);
    await store.write(record(1)); // no such folder: logged, not thrown
    assert(records.some((r) => r.msg === "writing the slot record failed"));
    await Deno.mkdir(`${dir}/missing`);
    await store.write(record(1));
    assertEquals((await store.read(1)).kind, "record");
  });
});

Deno.test("a record from before apps were kept by id reads with none", async () => {
  await withTempDir(async (dir) => {
    const { logger } = captureLogs();
    const store = new SlotStore(dir, logger);
    const { apps: _, ...older } = record(1).binding!;
    await Deno.writeTextFile(
      store.path(1),
      JSON.stringify({ ...record(1), binding: older }),
    );
    const read = await store.read(1);
    assert(read.kind === "record");
    assertEquals(read.record.binding?.apps, {});
  });
});
