/**
 * The streamer's launch parameters: how a session host starts
 * `webstream streamer` in a session (`mod/platform/streamer_command.ts`
 * builds the command line) and how the streamer reads it (`mod/cli/`
 * parses it). The flag names live here once; the licence proof travels in
 * the environment (`LICENCE_PROOF_ENV`), never on a command line.
 *
 * @module
 */

/** Each launch parameter's flag name (written `-name VALUE`). */
export const STREAMER_FLAGS = {
  /** The session manager's `/control` WebSocket URL. */
  control: "control",
  /** The port the streamer listens on. */
  port: "port",
  /** The address it binds. */
  bind: "bind",
  /** The pool account to identify as (slots sharing the host's user). */
  user: "user",
  /** A gateway's URL for licence check-ins (once per gateway, in order). */
  gatewayUrl: "gateway-url",
  /** This host's `serverUrl`. */
  serverUrl: "server-url",
  /** A PEM CA file for the gateway. */
  gatewayCa: "gateway-ca",
  /** The host's `metrics` and `activityLogging` sections, as JSON. */
  reporting: "reporting",
  /** Seconds without a session manager before the session ends itself. */
  orphanTimeout: "orphan-timeout",
} as const;

/** A launch parameter's flag name. */
export type StreamerFlag = typeof STREAMER_FLAGS[keyof typeof STREAMER_FLAGS];

/** Every flag the streamer takes, for a parser's list of allowed options. */
export const STREAMER_FLAG_NAMES: readonly StreamerFlag[] = Object.values(
  STREAMER_FLAGS,
);

/** `-name value` for a flag. */
export function flag(name: StreamerFlag, value: string): [string, string] {
  return [`-${name}`, value];
}
