/**
 * Tests for structured logging: one JSON object per line with `level`,
 * `component` and `msg`, the level threshold, child component names,
 * redaction of secret-looking keys, masking of registered secret values
 * wherever they appear (message, nested fields, Error messages), and the
 * pretty format.
 *
 * @module
 */
import {
  createLogger,
  type Logger,
  type LoggerOptions,
  redact,
  registerSecret,
} from "../../mod/log/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

/** A logger writing into an array. */
function capture(
  options: LoggerOptions = {},
): {
  logger: Logger;
  lines: string[];
  records: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const logger = createLogger({
    format: "json",
    ...options,
    sink: (line) => lines.push(line),
  });
  return {
    logger,
    lines,
    records: () => lines.map((line) => JSON.parse(line)),
  };
}

/** A fresh secret value, unique per call. */
function secretValue(): string {
  return `S3cr3t-${crypto.randomUUID()}`;
}

Deno.test("json format: one object per line with time, level, component and msg", () => {
  const { logger, lines, records } = capture({ component: "backend" });
  logger.info("pool ready", { slots: 4, warm: [1, 2] });
  assertEquals(lines.length, 1);
  assert(!lines[0].includes("\n"), "a single line");
  const [record] = records();
  assertEquals(record.level, "info");
  assertEquals(record.component, "backend");
  assertEquals(record.msg, "pool ready");
  assertEquals(record.slots, 4);
  assertEquals(record.warm, [1, 2]);
  assertMatch(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // The time is now, give or take a generous margin.
  assert(Math.abs(Date.parse(String(record.time)) - Date.now()) < 60_000);
});

Deno.test("each method writes its own level", () => {
  const { logger, records } = capture({ level: "debug" });
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  assertEquals(records().map((r) => [r.level, r.msg]), [
    ["debug", "d"],
    ["info", "i"],
    ["warn", "w"],
    ["error", "e"],
  ]);
});

Deno.test("the default component is webstream", () => {
  const { logger, records } = capture();
  logger.warn("x");
  assertEquals(records()[0].component, "webstream");
});

Deno.test("records below the threshold are dropped", async (t) => {
  const all = ["debug", "info", "warn", "error"] as const;
  for (const [i, level] of all.entries()) {
    await t.step(`level ${level}`, () => {
      const { logger, records } = capture({ level });
      for (const l of all) logger[l](l);
      assertEquals(records().map((r) => r.level), all.slice(i));
    });
  }
});

Deno.test("the default threshold is info unless WEBSTREAM_LOG_LEVEL says otherwise", () => {
  const before = Deno.env.get("WEBSTREAM_LOG_LEVEL");
  try {
    Deno.env.delete("WEBSTREAM_LOG_LEVEL");
    const plain = capture();
    plain.logger.debug("hidden");
    plain.logger.info("shown");
    assertEquals(plain.records().map((r) => r.msg), ["shown"]);

    Deno.env.set("WEBSTREAM_LOG_LEVEL", "debug");
    const verbose = capture();
    verbose.logger.debug("now shown");
    assertEquals(verbose.records().map((r) => r.msg), ["now shown"]);

    // An unknown level falls back to info.
    Deno.env.set("WEBSTREAM_LOG_LEVEL", "chatty");
    const fallback = capture();
    fallback.logger.debug("hidden");
    fallback.logger.info("shown");
    assertEquals(fallback.records().map((r) => r.msg), ["shown"]);
  } finally {
    if (before === undefined) Deno.env.delete("WEBSTREAM_LOG_LEVEL");
    else Deno.env.set("WEBSTREAM_LOG_LEVEL", before);
  }
});

Deno.test("child loggers name the sub-component and keep the options", () => {
  const { logger, records } = capture({ component: "backend", level: "warn" });
  const pool = logger.child("pool");
  const slot = pool.child("slot3");
  pool.info("dropped by the parent's threshold");
  pool.warn("from pool");
  slot.error("from slot");
  logger.warn("from parent");
  assertEquals(records().map((r) => [r.component, r.msg]), [
    ["backend.pool", "from pool"],
    ["backend.pool.slot3", "from slot"],
    ["backend", "from parent"],
  ]);
});

Deno.test("fields under secret-looking keys are redacted", () => {
  const { logger, lines, records } = capture();
  const values = {
    password: "pw-value-1",
    serverSessionPwd: "pw-value-2",
    sharedSecret: "pw-value-3",
    token: "pw-value-4",
    Authorization: "Bearer pw-value-5",
    cookie: "pw-value-6",
    credentials: { user: "u", key: "pw-value-7" },
  };
  logger.info("request", {
    ...values,
    nested: { deeper: { accessToken: "pw-value-8" } },
    list: [{ secret: "pw-value-9" }],
    user: "webs01",
    tokenCount: null,
  });
  assert(!/pw-value/.test(lines[0]), lines[0]);
  const [record] = records();
  for (const key of Object.keys(values)) {
    assertEquals(record[key], "[redacted]", key);
  }
  assertEquals(record.nested, { deeper: { accessToken: "[redacted]" } });
  assertEquals(record.list, [{ secret: "[redacted]" }]);
  // Ordinary fields, and empty secret fields, are kept.
  assertEquals(record.user, "webs01");
  assertEquals(record.tokenCount, null);
});

Deno.test("registered secret values are masked anywhere", async (t) => {
  const secret = secretValue();
  registerSecret(secret);
  await t.step("in the message", () => {
    const { logger, lines, records } = capture();
    logger.info(`logging in with ${secret} now`);
    assert(!lines[0].includes(secret));
    assertEquals(records()[0].msg, "logging in with [redacted] now");
  });
  await t.step("in nested fields and arrays under ordinary keys", () => {
    const { logger, lines, records } = capture();
    logger.warn("spawn", {
      argv: ["useradd", "-p", secret],
      env: { HOME: "/home/webs01", EXTRA: `x=${secret}` },
    });
    assert(!lines[0].includes(secret), lines[0]);
    const [record] = records();
    assertEquals(record.argv, ["useradd", "-p", "[redacted]"]);
    assertEquals(record.env, { HOME: "/home/webs01", EXTRA: "x=[redacted]" });
  });
  await t.step("in Error messages", () => {
    const { logger, lines, records } = capture();
    logger.error("failed", { error: new TypeError(`bad password ${secret}`) });
    assert(!lines[0].includes(secret), lines[0]);
    assertEquals(records()[0].error, {
      name: "TypeError",
      message: "bad password [redacted]",
    });
  });
  await t.step("in redact() directly", () => {
    assertEquals(redact({ a: [`${secret}${secret}`] }), {
      a: ["[redacted][redacted]"],
    });
  });
});

Deno.test("registerSecret ignores empty and very short values", () => {
  registerSecret(undefined);
  registerSecret("");
  registerSecret("abc");
  const { logger, records } = capture();
  logger.info("abc is ordinary text");
  assertEquals(records()[0].msg, "abc is ordinary text");
});

Deno.test("redact leaves ordinary values alone", () => {
  const value = { n: 1, b: true, s: "text", list: [1, "two"], none: null };
  assertEquals(redact(value), value);
  assertEquals(redact(42), 42);
  assertEquals(redact(undefined), undefined);
  // A secret-looking key redacts when a key is given.
  assertEquals(redact("x", "password"), "[redacted]");
});

Deno.test("pretty format: time, level, component, message and extra fields", () => {
  const { logger, lines } = capture({ format: "pretty", component: "sm" });
  logger.warn("slow logon", { slot: 2 });
  logger.info("plain");
  assertEquals(lines.length, 2);
  assertMatch(
    lines[0],
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[sm\] slow logon \{"slot":2\}$/,
  );
  assertMatch(lines[1], /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[sm\] plain$/);
});

Deno.test("pretty format masks secrets too", () => {
  const secret = secretValue();
  registerSecret(secret);
  const { logger, lines } = capture({ format: "pretty" });
  logger.info(`using ${secret}`, { password: "hunter2-plain" });
  assert(!lines[0].includes(secret));
  assert(!lines[0].includes("hunter2-plain"));
  assert(lines[0].includes('"password":"[redacted]"'), lines[0]);
});
