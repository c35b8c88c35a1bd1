/**
 * Structured logging: one JSON object per line, or a short human-friendly line
 * when stdout is a terminal. Secrets never reach the sink: fields whose names
 * look secret are replaced, and registered secret values are masked wherever
 * they appear.
 *
 * @module
 */

/** Severity of a log record, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra structured data attached to a log record. */
export type LogFields = Record<string, unknown>;

/** A logger bound to a component name. */
export interface Logger {
  /** Logs at debug level. */
  debug(message: string, fields?: LogFields): void;
  /** Logs at info level. */
  info(message: string, fields?: LogFields): void;
  /** Logs at warn level. */
  warn(message: string, fields?: LogFields): void;
  /** Logs at error level. */
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-component: its records carry `component`. */
  child(component: string): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** The lowest level written. Default `info` (or `WEBSTREAM_LOG_LEVEL`). */
  level?: LogLevel;
  /** `json` (one object per line) or `pretty`. Default: pretty on a TTY. */
  format?: "json" | "pretty";
  /** Where lines go. Default: stderr. */
  sink?: (line: string) => void;
  /** Component name put on every record. */
  component?: string;
}

const LEVEL_ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

// Names of secrets: passwords, shared secrets, tokens (`token`, `sessionToken`),
// but not settings about them such as `connectionTokenTtl`.
const SECRET_KEY = /pass|pwd|secret|authorization|cookie|credential|token$/i;
const REDACTED = "[redacted]";
const secretValues = new Set<string>();

/**
 * Registers a secret value (a password, a shared secret) so that it is masked
 * in every log line, whatever field it turns up in. Values shorter than four
 * characters are ignored to avoid masking ordinary text.
 */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secretValues.add(value);
}

/** Returns `value` with secret-looking fields and registered secrets masked. */
export function redact(value: unknown, key = ""): unknown {
  if (key && SECRET_KEY.test(key) && value !== undefined && value !== null) {
    return REDACTED;
  }
  if (typeof value === "string") return maskSecrets(value);
  if (Array.isArray(value)) return value.map((item) => redact(item));
  if (value instanceof Error) {
    return { name: value.name, message: maskSecrets(value.message) };
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}

function maskSecrets(text: string): string {
  let out = text;
  for (const secret of secretValues) out = out.replaceAll(secret, REDACTED);
  return out;
}

function envLevel(): LogLevel | undefined {
  try {
    const level = Deno.env.get("WEBSTREAM_LOG_LEVEL");
    return level && level in LEVEL_ORDER ? level as LogLevel : undefined;
  } catch {
    return undefined;
  }
}

function defaultSink(line: string): void {
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  } catch {
    // A closed stderr must never take the process down.
  }
}

function formatPretty(record: Record<string, unknown>): string {
  const { time, level, component, msg, ...rest } = record;
  const extra = Object.keys(rest).length ? " " + JSON.stringify(rest) : "";
  const clock = String(time).slice(11, 23);
  return `${clock} ${
    String(level).toUpperCase().padEnd(5)
  } [${component}] ${msg}${extra}`;
}

/** Creates a logger. Cheap: loggers share nothing but the secret registry. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVEL_ORDER[options.level ?? envLevel() ?? "info"];
  const format = options.format ??
    (Deno.stderr.isTerminal() ? "pretty" : "json");
  const sink = options.sink ?? defaultSink;
  const component = options.component ?? "webstream";

  function write(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVEL_ORDER[level] < threshold) return;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      component,
      msg: maskSecrets(message),
    };
    const extra = fields ? redact(fields) as LogFields : {};
    for (const [key, value] of Object.entries(extra)) {
      // A field never replaces the record's own keys.
      record[key in record ? `${key}_` : key] = value;
    }
    sink(format === "json" ? JSON.stringify(record) : formatPretty(record));
  }

  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
    child: (name) =>
      createLogger({ ...options, component: `${component}.${name}` }),
  };
}
