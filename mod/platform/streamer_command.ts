/**
 * The streamer's command line and extra environment, shared by every
 * platform so a streamer is started the same way on Linux and Windows:
 * `streamer -control URL -port N -bind ADDR` plus the licence check-in,
 * reporting and orphan-timeout arguments, with the flag names of
 * `mod/contract/streamer_launch.ts`. The licence proof travels in the
 * environment, never on a command line (other local users can read command
 * lines).
 *
 * @module
 */
import { LICENCE_PROOF_ENV } from "../contract/licence_proof.ts";
import { flag, STREAMER_FLAGS as F } from "../contract/streamer_launch.ts";
import type { SessionSpec } from "./types.ts";

/** Options for {@linkcode streamerArgs}. */
export interface StreamerArgsOptions {
  /**
   * The pool account to identify as, for slots that share this process's
   * user; a streamer running as its pool account identifies by its OS user.
   */
  user?: string;
}

/** The arguments after the self-command prefix: `streamer -control … -port … -bind …`. */
export function streamerArgs(
  spec: SessionSpec,
  options: StreamerArgsOptions = {},
): string[] {
  return [
    "streamer",
    ...flag(F.control, spec.controlUrl),
    ...flag(F.port, String(spec.streamerPort)),
    ...flag(F.bind, spec.bindAddress),
    ...(options.user ? flag(F.user, options.user) : []),
    ...licenceArgs(spec.licence),
    ...(spec.reporting
      ? flag(F.reporting, JSON.stringify(spec.reporting))
      : []),
    ...(spec.orphanTimeout === undefined
      ? []
      : flag(F.orphanTimeout, String(spec.orphanTimeout))),
  ];
}

/** The streamer's licence check-in arguments (none without a licence). */
export function licenceArgs(licence: SessionSpec["licence"]): string[] {
  if (!licence) return [];
  const gateways = typeof licence.gatewayUrl === "string"
    ? [licence.gatewayUrl]
    : licence.gatewayUrl;
  return [
    // Once per gateway, in order: the streamer fails over between them.
    ...gateways.flatMap((url) => flag(F.gatewayUrl, url)),
    ...flag(F.serverUrl, licence.serverUrl),
    ...(licence.caCertificate ? flag(F.gatewayCa, licence.caCertificate) : []),
  ];
}

/** Variables a streamer inherits from the session manager (logging only). */
export const PASS_THROUGH_ENV = ["WEBSTREAM_LOG_LEVEL", "NO_COLOR"] as const;

/**
 * The environment a streamer gets on top of its session's own: its licence
 * proof (when there is one) and the session manager's logging variables.
 */
export function streamerEnv(spec: SessionSpec): Record<string, string> {
  const out: Record<string, string> = {};
  if (spec.licence?.proof) out[LICENCE_PROOF_ENV] = spec.licence.proof;
  for (const name of PASS_THROUGH_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
