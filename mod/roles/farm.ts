/**
 * `webstream -farm`: a whole farm on one machine for trying webstream out —
 * a gateway on loopback (plain HTTP unless TLS is configured) and one session
 * host registered with it, sharing a generated secret. What the
 * configuration leaves out is filled in: a `demo` user (an administrator)
 * with a password printed at start, and two workspaces, a desktop and a
 * terminal.
 *
 * @module
 */
import type { Config, Workspace } from "../config/mod.ts";
import { hashPassword } from "../gateway/auth/mod.ts";
import type { Logger } from "../log/mod.ts";
import { registerSecret } from "../log/mod.ts";
import { encodeBase64Url } from "../util/encoding.ts";
import { startBackend } from "./backend.ts";
import type { RoleHandle } from "./common.ts";
import { startGatewayRole } from "./gateway.ts";

/** Workspaces of a farm whose configuration defines none. */
export const DEFAULT_WORKSPACES: Workspace[] = [
  {
    id: "desktop",
    name: "Desktop",
    kind: "desktop",
    command: {},
    requiredTags: [],
    requiredCapabilities: [],
    resources: {
      clipboard: true,
      fileUpload: true,
      fileDownload: false,
      printing: false,
      audio: true,
      videoMaxKbps: 8000,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
    credentials: "user",
    users: [],
    groups: [],
  },
  {
    id: "terminal",
    name: "Terminal",
    kind: "app",
    command: { linux: "xterm" },
    requiredTags: [],
    requiredCapabilities: [],
    resources: {
      clipboard: true,
      fileUpload: false,
      fileDownload: false,
      printing: false,
      audio: true,
      videoMaxKbps: 8000,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
    credentials: "user",
    users: [],
    groups: [],
  },
];

/** Options for {@linkcode startFarm}. */
export interface FarmOptions {
  /** Logger. */
  logger: Logger;
  /** Where the farm's sign-in details are printed. Default: stdout. */
  print?: (line: string) => void;
}

/** A running farm. */
export interface FarmHandle extends RoleHandle {
  /** The generated `demo` password, when the farm made the user. */
  demoPassword?: string;
  /** The portal's URL. */
  url: string;
}

/** The configuration a farm runs with, and the demo password it made. */
export async function farmConfig(
  config: Config,
): Promise<{ config: Config; demoPassword?: string }> {
  const out = structuredClone(config);
  const g = out.gateway;
  g.backend.sharedSecret ??= encodeBase64Url(
    crypto.getRandomValues(new Uint8Array(24)),
  );
  registerSecret(g.backend.sharedSecret);
  if (!g.tls) g.insecureHttp = true;
  g.listenAddress ??= "127.0.0.1";
  g.backend.gatewayUrl ??= `${g.tls ? "https" : "http"}://127.0.0.1:${g.port}`;
  if (!g.workspaces.length) g.workspaces = structuredClone(DEFAULT_WORKSPACES);
  let demoPassword: string | undefined;
  if (!g.auth.users.length && !g.auth.trustedHeader) {
    demoPassword = encodeBase64Url(crypto.getRandomValues(new Uint8Array(9)));
    g.auth.users = [{
      name: "demo",
      passwordHash: await hashPassword(demoPassword),
      groups: [],
      admin: true,
    }];
  }
  return { config: out, demoPassword };
}

/** Starts a gateway and one session host in this process. */
export async function startFarm(
  config: Config,
  options: FarmOptions,
): Promise<FarmHandle> {
  const { logger } = options;
  const { config: farm, demoPassword } = await farmConfig(config);
  const gateway = await startGatewayRole(farm, {
    logger: logger.child("gateway"),
  });
  let host;
  try {
    host = await startBackend(farm, { logger: logger.child("host") });
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  const url = `${gateway.scheme}://127.0.0.1:${gateway.port}/`;
  const print = options.print ?? ((line: string) => console.log(line));
  print(`webstream farm is up: open ${url}`);
  if (demoPassword) print(`sign in as "demo" with password ${demoPassword}`);
  return {
    port: gateway.port,
    url,
    demoPassword,
    async stop() {
      await host.stop();
      await gateway.stop();
    },
  };
}
