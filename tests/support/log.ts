/**
 * Logs in tests: a real JSON logger whose records are kept, parsed, for the
 * test to read.
 *
 * @module
 */
import { createLogger, type Logger, type LogLevel } from "../../mod/log/mod.ts";

/** A logger and the records it has written. */
export interface CapturedLogs {
  /** The logger. */
  logger: Logger;
  /** Every record written so far, oldest first. */
  records: Record<string, unknown>[];
}

/**
 * A JSON logger whose records are kept; `level` is the lowest written
 * (default: the logger's own, `info` unless `WEBSTREAM_LOG_LEVEL` says).
 */
export function captureLogs(level?: LogLevel): CapturedLogs {
  const records: Record<string, unknown>[] = [];
  return {
    records,
    logger: createLogger({
      format: "json",
      level,
      sink: (line) => records.push(JSON.parse(line)),
    }),
  };
}
