/**
 * Tests for the file log sink (in a temporary folder): JSON lines appended
 * (to what an earlier run wrote too), the folder created, rotation by size
 * keeping `keep` old files, and failures (an unwritable path, a failed
 * rotation, a link in place of the file) that drop lines without throwing,
 * reported once.
 *
 * @module
 */
import {
  createFileSink,
  DEFAULT_LOG_KEEP,
  DEFAULT_LOG_MAX_BYTES,
} from "../../mod/log/file_sink.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { withTempDirSync } from "../support/fs.ts";

/** The lines of `path` (without the final line break). */
function linesOf(path: string): string[] {
  const text = Deno.readTextFileSync(path);
  assert(text.endsWith("\n"), "every line ends with a line break");
  return text.slice(0, -1).split("\n");
}

/** A line of exactly `bytes` bytes with the line break: `n` padded. */
function line(n: number, bytes = 10): string {
  return String(n).padStart(bytes - 1, "0");
}

Deno.test("defaults: rotate at 10 MiB, keep three old files", () => {
  assertEquals(DEFAULT_LOG_MAX_BYTES, 10 * 1024 * 1024);
  assertEquals(DEFAULT_LOG_KEEP, 3);
});

Deno.test("a logger on the sink writes one JSON object per line, creating the folder and appending", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/logs/nested/webstream.log`;
    const errors: string[] = [];
    const first = createFileSink(path, { onError: (m) => errors.push(m) });
    assertEquals(first.path, path);
    const logger = createLogger({
      format: "json",
      sink: first.write,
      component: "backend",
    });
    logger.info("service starting", { role: "backend" });
    logger.child("pool").warn("slot failed", { slot: 2 });
    first.close();
    // A restarted service appends to what the last run wrote.
    const second = createFileSink(path, { onError: (m) => errors.push(m) });
    createLogger({ format: "json", sink: second.write, component: "backend" })
      .error("service failed", { exitCode: 1 });
    second.close();

    const records = linesOf(path).map((l) => JSON.parse(l));
    assertEquals(
      records.map(({ level, component, msg }) => [level, component, msg]),
      [
        ["info", "backend", "service starting"],
        ["warn", "backend.pool", "slot failed"],
        ["error", "backend", "service failed"],
      ],
    );
    assertEquals(records[0].role, "backend");
    assertEquals(records[1].slot, 2);
    assert(!Number.isNaN(Date.parse(records[0].time)));
    assertEquals(errors, []);
  });
});

Deno.test("rotation: at the size limit the file moves to .1, .1 to .2 …, keeping `keep` files", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/webstream.log`;
    // 10-byte lines, 30 bytes per file: three lines each.
    const sink = createFileSink(path, { maxBytes: 30, keep: 3 });
    for (let n = 1; n <= 3; n++) sink.write(line(n));
    assertEquals(linesOf(path), [line(1), line(2), line(3)]);
    assertEquals([...Deno.readDirSync(dir)].length, 1, "nothing rotated yet");
    assertEquals(Deno.statSync(path).size, 30, "exactly at the limit: kept");

    sink.write(line(4));
    assertEquals(linesOf(path), [line(4)]);
    assertEquals(linesOf(`${path}.1`), [line(1), line(2), line(3)]);

    for (let n = 5; n <= 15; n++) sink.write(line(n));
    sink.close();
    // 15 lines: 13–15 current, then 10–12, 7–9, 4–6; 1–3 were dropped.
    assertEquals(linesOf(path), [line(13), line(14), line(15)]);
    assertEquals(linesOf(`${path}.1`), [line(10), line(11), line(12)]);
    assertEquals(linesOf(`${path}.2`), [line(7), line(8), line(9)]);
    assertEquals(linesOf(`${path}.3`), [line(4), line(5), line(6)]);
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [
        "webstream.log",
        "webstream.log.1",
        "webstream.log.2",
        "webstream.log.3",
      ],
    );
  });
});

Deno.test("rotation counts what an earlier run left in the file", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/webstream.log`;
    Deno.writeTextFileSync(path, `${line(1)}\n${line(2)}\n`);
    const sink = createFileSink(path, { maxBytes: 30, keep: 1 });
    sink.write(line(3));
    sink.write(line(4));
    sink.close();
    assertEquals(linesOf(path), [line(4)]);
    assertEquals(linesOf(`${path}.1`), [line(1), line(2), line(3)]);
  });
});

Deno.test("keep 0: the full file is dropped; a line longer than the limit is still written", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/webstream.log`;
    const sink = createFileSink(path, { maxBytes: 30, keep: 0 });
    for (let n = 1; n <= 4; n++) sink.write(line(n));
    assertEquals(linesOf(path), [line(4)]);
    sink.write(line(5, 50));
    assertEquals(linesOf(path), [line(5, 50)]);
    sink.close();
    assertEquals([...Deno.readDirSync(dir)].length, 1);
  });
});

Deno.test("a path that cannot be written: lines are dropped, nothing throws, one report", () => {
  withTempDirSync((dir) => {
    // The "folder" is a file, so neither mkdir nor open can succeed.
    Deno.writeTextFileSync(`${dir}/blocker`, "");
    const errors: string[] = [];
    const sink = createFileSink(`${dir}/blocker/logs/webstream.log`, {
      retryMs: 0,
      onError: (message) => errors.push(message),
    });
    const logger = createLogger({ format: "json", sink: sink.write });
    for (let i = 0; i < 5; i++) logger.error("lost", { i });
    sink.close();
    assertEquals(errors.length, 1);
    assert(
      errors[0].startsWith(`log file ${dir}/blocker/logs/webstream.log: `),
      errors[0],
    );
    assert(errors[0].endsWith("lines that cannot be written are dropped"));
  });
});

Deno.test("a reporter that throws, and the default stderr note, never reach the caller", () => {
  withTempDirSync((dir) => {
    Deno.writeTextFileSync(`${dir}/blocker`, "");
    const throwing = createFileSink(`${dir}/blocker/a.log`, {
      onError: () => {
        throw new Error("reporter broken");
      },
    });
    throwing.write("x");
    // The default reporter writes one note on stderr.
    createFileSink(`${dir}/blocker/b.log`).write("x");
  });
});

Deno.test("the file recovers once writing works again (after retryMs)", () => {
  withTempDirSync((dir) => {
    const folder = `${dir}/logs`;
    Deno.writeTextFileSync(folder, "");
    const errors: string[] = [];
    const sink = createFileSink(`${folder}/webstream.log`, {
      retryMs: 0,
      onError: (message) => errors.push(message),
    });
    sink.write("lost");
    Deno.removeSync(folder);
    sink.write("kept");
    sink.close();
    assertEquals(linesOf(`${folder}/webstream.log`), ["kept"]);
    assertEquals(errors.length, 1);
  });
});

Deno.test("after a failure nothing is tried again before retryMs", () => {
  withTempDirSync((dir) => {
    const folder = `${dir}/logs`;
    Deno.writeTextFileSync(folder, "");
    const sink = createFileSink(`${folder}/webstream.log`, {
      retryMs: 60_000,
      onError: () => {},
    });
    sink.write("lost");
    Deno.removeSync(folder);
    sink.write("also lost: within a minute of the failure");
    sink.close();
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("a failed rotation keeps appending up to twice the limit, then drops, and retries", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/webstream.log`;
    // A folder where `.1` must go makes renaming the file onto it fail.
    Deno.mkdirSync(`${path}.1`);
    Deno.writeTextFileSync(`${path}.1/pinned`, "");
    const errors: string[] = [];
    const sink = createFileSink(path, {
      maxBytes: 30,
      keep: 1,
      retryMs: 0,
      onError: (message) => errors.push(message),
    });
    for (let n = 1; n <= 8; n++) sink.write(line(n));
    assertEquals(linesOf(path), [1, 2, 3, 4, 5, 6].map((n) => line(n)));
    assertEquals(errors.length, 1, "reported once");
    // The obstacle gone, the next line rotates.
    Deno.removeSync(`${path}.1`, { recursive: true });
    sink.write(line(9));
    sink.close();
    assertEquals(linesOf(path), [line(9)]);
    assertEquals(linesOf(`${path}.1`), [1, 2, 3, 4, 5, 6].map((n) => line(n)));
  });
});

Deno.test({
  name: "a symbolic link in place of the log file is not followed",
  ignore: Deno.build.os === "windows",
  fn() {
    withTempDirSync((dir) => {
      const target = `${dir}/elsewhere.txt`;
      Deno.writeTextFileSync(target, "precious\n");
      Deno.symlinkSync(target, `${dir}/webstream.log`);
      const errors: string[] = [];
      const sink = createFileSink(`${dir}/webstream.log`, {
        onError: (message) => errors.push(message),
      });
      sink.write("redirected?");
      sink.close();
      assertEquals(Deno.readTextFileSync(target), "precious\n");
      assertEquals(errors.length, 1);
      assert(errors[0].includes("symbolic link or junction"), errors[0]);
    });
  },
});

Deno.test({
  name: "a hard link in place of the log file is not written",
  ignore: Deno.build.os === "windows",
  fn() {
    withTempDirSync((dir) => {
      const target = `${dir}/elsewhere.txt`;
      Deno.writeTextFileSync(target, "precious\n");
      Deno.linkSync(target, `${dir}/webstream.log`);
      const errors: string[] = [];
      const sink = createFileSink(`${dir}/webstream.log`, {
        onError: (message) => errors.push(message),
      });
      sink.write("redirected?");
      sink.close();
      assertEquals(Deno.readTextFileSync(target), "precious\n");
      assert(errors[0].includes("hard links"), errors[0]);
    });
  },
});

Deno.test("bad limits are refused when the sink is made", () => {
  assertThrows(
    () => createFileSink("/tmp/x.log", { maxBytes: 0 }),
    RangeError,
    /maxBytes/,
  );
  assertThrows(
    () => createFileSink("/tmp/x.log", { keep: -1 }),
    RangeError,
    /keep/,
  );
});
