/**
 * Who is calling: a user signed in with a password (kept in a signed,
 * HTTP-only cookie that expires), or, behind an SSO proxy, the user a
 * trusted header names — but only when the request comes from one of the
 * configured proxies. Repeated failed sign-ins for a name are slowed down.
 * Every sign-in has its own id, so signing out revokes that sign-in on the
 * server (not only in the browser), and an administrator can revoke all of a
 * user's sign-ins ({@linkcode Revocations}).
 *
 * @module
 */
import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { getConnInfo } from "hono/deno";
import { z } from "zod";
import type { AuthSettings, GatewayUser } from "../../config/mod.ts";
import { encodeBase64Url } from "../../util/encoding.ts";
import type { Identity } from "../types.ts";
import { verifyPassword } from "./password.ts";
import { Revocations } from "./revocations.ts";

/** The cookie holding the signed-in identity. */
export const SESSION_COOKIE = "webstream_session";

/** Options for {@linkcode createAuthenticator}. */
export interface AuthenticatorOptions {
  /** `gateway.auth`. */
  settings: AuthSettings;
  /** The cookie signing secret. */
  cookieSecret: string;
  /** Mark the cookie `Secure` (the gateway serves HTTPS). */
  secureCookie: boolean;
  /** Revoked sign-ins. Default: a list of this gateway's, in memory. */
  revocations?: Revocations;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
}

/** Signs users in and out and tells who a request comes from. */
export interface Authenticator {
  /** The caller, or undefined when not signed in. */
  identify(c: Context): Promise<Identity | undefined>;
  /**
   * Checks a password and sets the cookie. Resolves with the identity, with
   * `"locked"` after too many failures from that address, `"busy"` when too
   * many checks run at once, or undefined for a wrong name or password (the
   * same answer for both).
   */
  signIn(
    c: Context,
    user: string,
    password: string,
  ): Promise<Identity | "locked" | "busy" | undefined>;
  /**
   * Revokes the caller's sign-in and clears the cookie. Resolves with who
   * was signed in, if anyone (by cookie).
   */
  signOut(c: Context): Promise<string | undefined>;
  /**
   * Revokes every sign-in of `user` issued before now. Resolves with that
   * time, or undefined when no such user is configured.
   */
  signOutEverywhere(user: string): number | undefined;
}

/**
 * What the signed cookie holds: user, groups, admin, expiry, and the sign-in's
 * id and time. A cookie from before sign-ins had ids is not accepted.
 */
const cookieSchema = z.object({
  u: z.string(),
  g: z.array(z.string()),
  a: z.boolean(),
  exp: z.number(),
  id: z.string().min(1),
  iat: z.number(),
});

type CookieBody = z.infer<typeof cookieSchema>;

const MAX_FAILURES = 5;
const MAX_CONCURRENT_CHECKS = 4;
const MAX_TRACKED = 10_000;
const FAILURE_WINDOW_MS = 5 * 60_000;

/** Creates the gateway's authenticator. */
export function createAuthenticator(
  options: AuthenticatorOptions,
): Authenticator {
  const { settings, cookieSecret, secureCookie } = options;
  const now = options.now ?? Date.now;
  const revocations = options.revocations ?? new Revocations({ now });
  const ttlMs = settings.sessionTtl * 1000;
  const users = new Map<string, GatewayUser>(
    settings.users.map((u) => [u.name, u]),
  );
  const failures = new Map<string, number[]>();

  let checking = 0;

  /** Failures of `key` (user name and client address) in the window. */
  function recentFailures(key: string): number[] {
    const cutoff = now() - FAILURE_WINDOW_MS;
    const list = (failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) failures.set(key, list);
    else failures.delete(key);
    return list;
  }

  /** Keeps the failure table bounded however many names are tried. */
  function sweepFailures(): void {
    if (failures.size < MAX_TRACKED) return;
    for (const key of [...failures.keys()]) recentFailures(key);
    // Still full: forget the oldest entries.
    for (const key of failures.keys()) {
      if (failures.size < MAX_TRACKED) break;
      failures.delete(key);
    }
  }

  function normalizeAddress(address: string): string {
    return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
  }

  function fromHeader(c: Context): Identity | undefined {
    const trusted = settings.trustedHeader;
    if (!trusted) return undefined;
    const remote = normalizeAddress(getConnInfo(c).remote.address ?? "");
    if (!trusted.trustedProxies.map(normalizeAddress).includes(remote)) {
      return undefined;
    }
    const user = c.req.header(trusted.user)?.trim();
    if (!user) return undefined;
    const groups = trusted.groups
      ? (c.req.header(trusted.groups) ?? "").split(",").map((g) => g.trim())
        .filter(Boolean)
      : [];
    return { user, groups, admin: users.get(user)?.admin ?? false };
  }

  /** When a cookie stops being valid: a shortened `sessionTtl` counts too. */
  function expiryOf(body: CookieBody): number {
    return Math.min(body.exp, body.iat + ttlMs);
  }

  /** The signed cookie's sign-in, unless expired or revoked. */
  async function validCookie(c: Context): Promise<CookieBody | undefined> {
    const raw = await getSignedCookie(c, cookieSecret, SESSION_COOKIE);
    if (!raw) return undefined;
    let parsed;
    try {
      parsed = cookieSchema.safeParse(JSON.parse(raw));
    } catch {
      return undefined;
    }
    if (!parsed.success) return undefined;
    const body = parsed.data;
    if (expiryOf(body) < now()) return undefined;
    if (
      await revocations.isRevoked({
        id: body.id,
        user: body.u,
        issuedAt: body.iat,
      })
    ) {
      return undefined;
    }
    return body;
  }

  return {
    async identify(c) {
      const header = fromHeader(c);
      if (header) return header;
      const body = await validCookie(c);
      if (!body) return undefined;
      // A user removed from the configuration is signed out.
      const known = users.get(body.u);
      if (!known && !settings.trustedHeader) return undefined;
      return {
        user: body.u,
        groups: known?.groups ?? body.g,
        admin: known?.admin ?? false,
      };
    },

    async signIn(c, user, password) {
      // Lockout per name and client address: a stranger elsewhere cannot
      // lock a user out.
      const client = normalizeAddress(getConnInfo(c).remote.address ?? "");
      const key = `${user}\n${client}`;
      if (recentFailures(key).length >= MAX_FAILURES) return "locked";
      // Each check costs 16 MiB and ~50 ms of scrypt: only a few at once.
      if (checking >= MAX_CONCURRENT_CHECKS) return "busy";
      const known = users.get(user);
      checking++;
      let ok: boolean;
      try {
        // A wrong name costs as much as a wrong password.
        ok = await verifyPassword(password, known?.passwordHash ?? DUMMY_HASH);
      } finally {
        checking--;
      }
      if (!known || !ok) {
        sweepFailures();
        failures.set(key, [...recentFailures(key), now()]);
        return undefined;
      }
      failures.delete(key);
      const issuedAt = now();
      const body: CookieBody = {
        u: known.name,
        g: known.groups,
        a: known.admin,
        exp: issuedAt + ttlMs,
        id: encodeBase64Url(crypto.getRandomValues(new Uint8Array(16))),
        iat: issuedAt,
      };
      await setSignedCookie(
        c,
        SESSION_COOKIE,
        JSON.stringify(body),
        cookieSecret,
        {
          httpOnly: true,
          sameSite: "Strict",
          secure: secureCookie,
          path: "/",
          maxAge: Math.floor(settings.sessionTtl),
        },
      );
      return { user: known.name, groups: known.groups, admin: known.admin };
    },

    async signOut(c) {
      const body = await validCookie(c);
      if (body) {
        revocations.revoke({
          kind: "signin",
          id: body.id,
          expiresAt: expiryOf(body),
        });
      }
      deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secureCookie });
      return body?.u;
    },

    signOutEverywhere(user) {
      if (!users.has(user)) return undefined;
      const before = now();
      // Its cookies were issued before `before`, so expire within a lifetime.
      revocations.revoke({
        kind: "user",
        user,
        before,
        expiresAt: before + ttlMs,
      });
      return before;
    },
  };
}

// A valid hash of a random password, so unknown names take as long as known.
const DUMMY_HASH =
  "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$2yb1eLjHNrETJ3ZdPFqUdQxO+/K8dA3nHoC9VdPb2Rw=";
