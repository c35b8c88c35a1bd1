/**
 * What the browser uses: sign-in and sign-out, the workspaces a user may
 * launch, launching, the user's sessions (and logging one off), and the
 * WebSocket path that the
 * gateway relays to the session's streamer.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { SCREEN_BOUNDS } from "../../contract/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { relayWebSocket } from "../../relay/mod.ts";
import type { Authenticator } from "../auth/mod.ts";
import { type Launcher, LaunchError } from "../launch.ts";
import { logOffSession } from "../log_off.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { SessionMap } from "../sessions.ts";
import type { Identity, SessionRecord } from "../types.ts";
import { readJson } from "./json.ts";

const signInSchema = z.object({
  user: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

const launchSchema = z.object({
  workspaceId: z.string().min(1).max(64),
  sessionId: z.string().uuid().optional(),
  width: z.number().int().min(SCREEN_BOUNDS.width.min).max(
    SCREEN_BOUNDS.width.max,
  ).optional(),
  height: z.number().int().min(SCREEN_BOUNDS.height.min).max(
    SCREEN_BOUNDS.height.max,
  ).optional(),
});

/** Options for {@linkcode userApi}. */
export interface UserApiOptions {
  /** Sign-in. */
  auth: Authenticator;
  /** Launches. */
  launcher: Launcher;
  /** Sessions. */
  sessions: SessionMap;
  /** Metrics (proxy bytes). */
  metrics: GatewayMetrics;
  /** The farm's shared secret (to log sessions off on their hosts). */
  sharedSecret?: string;
  /** Logger. */
  logger: Logger;
}

type Env = { Variables: { identity: Identity } };

/** Routes under `/api/` plus the WebSocket relay `/ws/:sessionId`. */
export function userApi(options: UserApiOptions): Hono<Env> {
  const { auth, launcher, sessions, metrics, logger } = options;
  const app = new Hono<Env>();

  const signedIn = async (c: Context<Env>, next: () => Promise<void>) => {
    const identity = await auth.identify(c);
    if (!identity) return c.json({ error: "sign in first" }, 401);
    c.set("identity", identity);
    await next();
  };

  app.post("/api/signin", async (c) => {
    const body = await readJson(c, signInSchema);
    if (!body.ok) return body.response;
    const result = await auth.signIn(c, body.value.user, body.value.password);
    if (result === "busy") {
      c.header("Retry-After", "1");
      return c.json({ error: "too many sign-ins at once; try again" }, 503);
    }
    if (result === "locked") {
      return c.json(
        { error: "too many failed sign-ins; wait a few minutes" },
        429,
      );
    }
    if (!result) return c.json({ error: "wrong user name or password" }, 401);
    logger.info("signed in", { user: result.user });
    return c.json(result);
  });

  app.post("/api/signout", async (c) => {
    // Revoked on the server too: the cookie is refused from now on.
    const user = await auth.signOut(c);
    if (user) logger.info("signed out", { user });
    return c.body(null, 204);
  });

  app.get("/api/me", signedIn, (c) => c.json(c.get("identity")));

  app.get("/api/workspaces", signedIn, (c) =>
    c.json(
      launcher.workspacesFor(c.get("identity")).map((w) => ({
        id: w.id,
        name: w.name,
        kind: w.kind,
      })),
    ));

  app.get("/api/sessions", signedIn, (c) =>
    c.json(
      sessions.ofUser(c.get("identity").user).map((s) => ({
        sessionId: s.sessionId,
        kind: s.kind,
        workspaceIds: s.workspaceIds,
        createdAt: new Date(s.createdAt).toISOString(),
      })),
    ));

  app.post("/api/sessions/:sessionId/logoff", signedIn, async (c) => {
    const user = c.get("identity").user;
    const session = await sessions.find(c.req.param("sessionId") ?? "");
    if (!session || session.user !== user) {
      return c.json({ error: "no such session" }, 404);
    }
    const result = await logOffSession(session, {
      sessions,
      sharedSecret: options.sharedSecret,
      by: user,
      logger,
    });
    if (result.kind === "failed") {
      return c.json(
        { error: `the session's host could not end it: ${result.detail}` },
        502,
      );
    }
    return c.json({ ok: true });
  });

  app.post("/api/launch", signedIn, async (c) => {
    const body = await readJson(c, launchSchema);
    if (!body.ok) return body.response;
    try {
      const result = await launcher.launch({
        identity: c.get("identity"),
        ...body.value,
      });
      c.header("Cache-Control", "no-store");
      return c.json(result);
    } catch (error) {
      if (error instanceof LaunchError) {
        if (error.status === 503 || error.status === 429) {
          c.header("Retry-After", "10");
        }
        return c.json(
          { error: error.message, decisionId: error.decisionId },
          error.status,
        );
      }
      throw error;
    }
  });

  app.get("/ws/:sessionId", signedIn, async (c) => {
    // Another gateway may have placed it a moment ago.
    const session = await sessions.find(c.req.param("sessionId") ?? "");
    if (!session || session.user !== c.get("identity").user) {
      return c.json({ error: "no such session" }, 404);
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "expected a WebSocket upgrade" }, 426);
    }
    const target = streamerUrl(session, c.req.query("token") ?? "");
    if (!target) {
      return c.json({ error: "the session's address is invalid" }, 502);
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    relayWebSocket(socket, target, {
      logger,
      count: (direction, bytes) => metrics.proxied(direction, bytes),
    });
    return response;
  });

  return app;
}

/** The streamer's WebSocket URL for a session; undefined if it makes none. */
export function streamerUrl(
  session: Pick<SessionRecord, "host" | "port" | "path">,
  token: string,
): string | undefined {
  // Hosts may come bracketed (an IPv6 literal from a URL) or bare.
  const bare = session.host.replace(/^\[(.*)\]$/, "$1");
  const host = bare.includes(":") ? `[${bare}]` : bare;
  try {
    const url = new URL(`ws://${host}:${session.port}${session.path}`);
    url.searchParams.set("token", token);
    return url.href;
  } catch {
    return undefined;
  }
}
