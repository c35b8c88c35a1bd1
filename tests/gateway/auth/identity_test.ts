/**
 * The authenticator, through a small hono app served on 127.0.0.1: sign-in
 * sets a signed HttpOnly SameSite=Strict cookie (Secure when asked) that
 * `identify` reads back; tampered, foreign-signed and expired cookies (clock
 * injected) are refused, as is the cookie of a user no longer configured;
 * a wrong password and an unknown name get the same answer and no cookie;
 * five failures lock a name at that client address (only) until the window
 * passes; more than four password checks at once get "busy" (not counted as
 * failures); the failure table is bounded, forgetting its oldest entries;
 * sign-out clears the cookie and revokes that sign-in (the old cookie is
 * refused, other sign-ins are not); signing a user out everywhere refuses
 * every cookie of theirs issued before, not other users' nor later ones;
 * revocations kept in a shared SQLite store are honoured by a second
 * authenticator on it (another gateway, or this one restarted); a shortened
 * `sessionTtl` applies to cookies already issued; a cookie without a sign-in
 * id (from an older release) is refused; a trusted header is believed only from a listed
 * proxy address (IPv4-mapped IPv6 forms included), with groups from the
 * groups header; the admin flag comes from the configured user, never from
 * the cookie.
 *
 * @module
 */
import { Hono } from "hono";
import { DatabaseSync } from "node:sqlite";
import {
  authSchema,
  type AuthSettings,
  type GatewayUser,
} from "../../../mod/config/mod.ts";
import { setSignedCookie } from "hono/cookie";
import {
  type Authenticator,
  createAuthenticator,
  hashPassword,
  Revocations,
  SESSION_COOKIE,
} from "../../../mod/gateway/auth/mod.ts";
import { openSqliteStore } from "../../../mod/gateway/store.ts";
import type { Identity } from "../../../mod/gateway/types.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";

const SECRET = "0123456789abcdef0123456789abcdef-test-secret";
const TTL = 3600;
const WINDOW_MS = 5 * 60_000;
const T0 = 1_700_000_000_000;

const ALICE_PASSWORD = "alice's long password";
const BOB_PASSWORD = "bob-pw-2024";
const USERS: GatewayUser[] = [
  {
    name: "alice",
    passwordHash: await hashPassword(ALICE_PASSWORD),
    groups: ["ops", "staff"],
    admin: true,
  },
  {
    name: "bob",
    passwordHash: await hashPassword(BOB_PASSWORD),
    groups: ["staff"],
    admin: false,
  },
];

function authSettings(overrides: Partial<AuthSettings> = {}): AuthSettings {
  return {
    ...authSchema.parse({ sessionTtl: TTL }),
    users: USERS,
    ...overrides,
  };
}

interface Served {
  url: string;
  clock: { now: number };
  auth: Authenticator;
  signIn(user: string, password: string): Promise<SignInResult>;
  me(cookie?: string, headers?: HeadersInit): Promise<Identity | null>;
  signOut(cookie: string): Promise<string[]>;
  close(): Promise<void>;
}

interface SignInResult {
  result: Identity | "locked" | null;
  setCookie: string[];
  cookie?: string;
}

interface ServeOptions {
  settings?: AuthSettings;
  secret?: string;
  secureCookie?: boolean;
  /** Revocations over a store, with the clock given here. */
  revocations?: (now: () => number) => Revocations;
  clock?: { now: number };
}

function serve(options: ServeOptions = {}): Served {
  const clock = options.clock ?? { now: T0 };
  const now = () => clock.now;
  const auth: Authenticator = createAuthenticator({
    settings: options.settings ?? authSettings(),
    cookieSecret: options.secret ?? SECRET,
    secureCookie: options.secureCookie ?? false,
    revocations: options.revocations?.(now),
    now,
  });
  const app = new Hono();
  app.post("/signin", async (c) => {
    const { user, password } = await c.req.json();
    return c.json({ result: (await auth.signIn(c, user, password)) ?? null });
  });
  app.get(
    "/me",
    async (c) => c.json({ identity: (await auth.identify(c)) ?? null }),
  );
  app.post("/signout", async (c) => {
    await auth.signOut(c);
    return c.body(null, 204);
  });
  // A cookie as an older release wrote it: no sign-in id.
  app.post("/legacy", async (c) => {
    const body = { u: "bob", g: [], a: false, exp: clock.now + 60_000 };
    await setSignedCookie(
      c,
      SESSION_COOKIE,
      JSON.stringify(body),
      options.secret ?? SECRET,
    );
    return c.body(null, 204);
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    clock,
    auth,
    async signIn(user, password) {
      const response = await fetch(`${url}/signin`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, password }),
      });
      const { result } = await response.json();
      const setCookie = response.headers.getSetCookie();
      const ours = setCookie.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      return { result, setCookie, cookie: ours?.split(";")[0] };
    },
    async me(cookie, headers) {
      const request = new Headers(headers);
      if (cookie) request.set("cookie", cookie);
      const response = await fetch(`${url}/me`, { headers: request });
      return (await response.json()).identity;
    },
    async signOut(cookie) {
      const response = await fetch(`${url}/signout`, {
        method: "POST",
        headers: { cookie },
      });
      await response.body?.cancel();
      return response.headers.getSetCookie();
    },
    close: () => server.shutdown(),
  };
}

/** Runs `fn` against a served authenticator, closing it afterwards. */
async function withServed(
  options: ServeOptions,
  fn: (served: Served) => Promise<void>,
): Promise<void> {
  const served = serve(options);
  try {
    await fn(served);
  } finally {
    await served.close();
  }
}

function attributes(setCookie: string): string[] {
  return setCookie.split(";").slice(1).map((a) => a.trim().toLowerCase());
}

Deno.test("sign-in sets a signed HttpOnly SameSite=Strict cookie", async () => {
  await withServed({}, async (served) => {
    const signed = await served.signIn("alice", ALICE_PASSWORD);
    assertEquals(signed.result, {
      user: "alice",
      groups: ["ops", "staff"],
      admin: true,
    });
    assert(signed.cookie, "no session cookie");
    const header = signed.setCookie.find((c) => c.startsWith(SESSION_COOKIE))!;
    const attrs = attributes(header);
    assert(attrs.includes("httponly"), header);
    assert(attrs.includes("samesite=strict"), header);
    assert(attrs.includes("path=/"), header);
    assert(attrs.includes(`max-age=${TTL}`), header);
    assert(!attrs.includes("secure"), "Secure over plain HTTP");

    assertEquals(await served.me(signed.cookie), signed.result);
    assertEquals(await served.me(), null);
  });
  await withServed({ secureCookie: true }, async (served) => {
    const signed = await served.signIn("bob", BOB_PASSWORD);
    const header = signed.setCookie.find((c) => c.startsWith(SESSION_COOKIE))!;
    assert(attributes(header).includes("secure"), header);
    assertEquals((await served.me(signed.cookie))?.user, "bob");
  });
});

Deno.test("tampered, foreign and expired cookies are refused", async () => {
  await withServed({}, async (served) => {
    const { cookie } = await served.signIn("bob", BOB_PASSWORD);
    assert(cookie);
    const value = decodeURIComponent(cookie.slice(SESSION_COOKIE.length + 1));
    assertMatch(value, /"u":"bob"/);

    // Claiming to be alice with bob's signature.
    const forged = value.replace('"u":"bob"', '"u":"alice"');
    assertEquals(
      await served.me(`${SESSION_COOKIE}=${encodeURIComponent(forged)}`),
      null,
    );
    // Pushing the expiry out.
    const extended = value.replace(
      /"exp":\d+/,
      `"exp":${T0 + 10 * 86_400_000}`,
    );
    assert(extended !== value);
    assertEquals(
      await served.me(`${SESSION_COOKIE}=${encodeURIComponent(extended)}`),
      null,
    );
    // A damaged signature.
    const damaged = value.slice(0, -3) +
      (value.endsWith("AAA") ? "BBB" : "AAA");
    assertEquals(
      await served.me(`${SESSION_COOKIE}=${encodeURIComponent(damaged)}`),
      null,
    );
    assertEquals(await served.me(`${SESSION_COOKIE}=garbage`), null);
    assertEquals((await served.me(cookie))?.user, "bob", "the original works");

    // Valid until the TTL has passed, not after.
    served.clock.now = T0 + TTL * 1000;
    assertEquals((await served.me(cookie))?.user, "bob");
    served.clock.now = T0 + TTL * 1000 + 1;
    assertEquals(await served.me(cookie), null);
  });

  // Signed with another gateway's secret.
  let foreign: string | undefined;
  await withServed(
    { secret: "another-secret-of-at-least-32-characters" },
    async (other) => {
      foreign = (await other.signIn("bob", BOB_PASSWORD)).cookie;
    },
  );
  assert(foreign);
  await withServed({}, async (served) => {
    assertEquals(await served.me(foreign), null);
  });
});

Deno.test("a user removed from the configuration is signed out", async () => {
  let cookie: string | undefined;
  await withServed({}, async (served) => {
    cookie = (await served.signIn("bob", BOB_PASSWORD)).cookie;
  });
  assert(cookie);
  const onlyAlice = authSettings({ users: [USERS[0]] });
  await withServed({ settings: onlyAlice }, async (served) => {
    assertEquals(await served.me(cookie), null);
  });
});

Deno.test("wrong password and unknown user get the same answer", async () => {
  await withServed({}, async (served) => {
    const wrong = await served.signIn("alice", "not it");
    const unknown = await served.signIn("mallory", ALICE_PASSWORD);
    const empty = await served.signIn("alice", "");
    for (const attempt of [wrong, unknown, empty]) {
      assertEquals(attempt.result, null);
      assertEquals(attempt.setCookie, [], "a failed sign-in set a cookie");
    }
  });
});

Deno.test("five failures lock a name until the window passes", async () => {
  await withServed({}, async (served) => {
    for (let n = 1; n <= 5; n++) {
      assertEquals((await served.signIn("alice", `guess ${n}`)).result, null);
      served.clock.now += 1_000;
    }
    // Locked: even the right password is not tried, and no cookie is set.
    const locked = await served.signIn("alice", ALICE_PASSWORD);
    assertEquals(locked.result, "locked");
    assertEquals(locked.setCookie, []);
    // Other names are not affected.
    const bob = await served.signIn("bob", BOB_PASSWORD);
    assertEquals((bob.result as Identity).user, "bob");
    // Unknown names lock the same way.
    for (let n = 1; n <= 5; n++) await served.signIn("mallory", "x");
    assertEquals((await served.signIn("mallory", "x")).result, "locked");

    // The lock lifts as the first failure (at T0) leaves the window.
    served.clock.now = T0 + WINDOW_MS - 1;
    assertEquals(
      (await served.signIn("alice", ALICE_PASSWORD)).result,
      "locked",
    );
    served.clock.now = T0 + WINDOW_MS;
    const back = await served.signIn("alice", ALICE_PASSWORD);
    assertEquals((back.result as Identity).user, "alice");
    assert(back.cookie);
  });

  await withServed({}, async (served) => {
    // A success clears the count.
    for (let n = 0; n < 4; n++) await served.signIn("bob", "wrong");
    const between = await served.signIn("bob", BOB_PASSWORD);
    assertEquals((between.result as Identity).user, "bob");
    for (let n = 0; n < 4; n++) await served.signIn("bob", "wrong");
    const after = await served.signIn("bob", BOB_PASSWORD);
    assertEquals((after.result as Identity).user, "bob");
  });
});

Deno.test("sign-out clears the cookie", async () => {
  for (const secureCookie of [false, true]) {
    await withServed({ secureCookie }, async (served) => {
      const { cookie } = await served.signIn("alice", ALICE_PASSWORD);
      assert(cookie);
      const cleared = (await served.signOut(cookie)).find((c) =>
        c.startsWith(`${SESSION_COOKIE}=`)
      );
      assert(cleared, "sign-out did not touch the cookie");
      assertEquals(cleared.split(";")[0], `${SESSION_COOKIE}=`);
      const attrs = attributes(cleared);
      assert(attrs.includes("max-age=0"), cleared);
      assert(attrs.includes("path=/"), cleared);
      assertEquals(attrs.includes("secure"), secureCookie);
      // What the browser then sends identifies nobody.
      assertEquals(await served.me(cleared.split(";")[0]), null);
    });
  }
});

Deno.test("sign-out revokes that sign-in: its cookie is refused afterwards", async () => {
  await withServed({}, async (served) => {
    const first = await served.signIn("alice", ALICE_PASSWORD);
    const second = await served.signIn("alice", ALICE_PASSWORD);
    assert(first.cookie && second.cookie);
    assert(first.cookie !== second.cookie, "each sign-in has its own cookie");
    // A browser that kept (or an attacker who copied) the cookie is refused.
    await served.signOut(first.cookie);
    assertEquals(await served.me(first.cookie), null);
    // Signing out again with it changes nothing and does not fail.
    await served.signOut(first.cookie);
    // The other sign-in stands until it signs out too.
    assertEquals((await served.me(second.cookie))?.user, "alice");
    await served.signOut(second.cookie);
    assertEquals(await served.me(second.cookie), null);
    // And signing in again works.
    const third = await served.signIn("alice", ALICE_PASSWORD);
    assertEquals((await served.me(third.cookie))?.user, "alice");
  });
});

Deno.test("a user signed out everywhere: their earlier cookies only", async () => {
  await withServed({}, async (served) => {
    const bob1 = await served.signIn("bob", BOB_PASSWORD);
    served.clock.now += 1000;
    const bob2 = await served.signIn("bob", BOB_PASSWORD);
    const alice = await served.signIn("alice", ALICE_PASSWORD);
    served.clock.now += 1;
    assertEquals(served.auth.signOutEverywhere("bob"), served.clock.now);
    assertEquals(await served.me(bob1.cookie), null);
    assertEquals(await served.me(bob2.cookie), null);
    assertEquals((await served.me(alice.cookie))?.user, "alice");
    // A sign-in after it is good.
    served.clock.now += 1;
    const later = await served.signIn("bob", BOB_PASSWORD);
    assertEquals((await served.me(later.cookie))?.user, "bob");
    // A name not configured: nothing to sign out.
    assertEquals(served.auth.signOutEverywhere("mallory"), undefined);
  });
});

Deno.test("revocations in a shared store hold for another authenticator on it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.sqlite`;
    const clock = { now: T0 };
    const stores = [openSqliteStore(path), openSqliteStore(path)];
    const options = (i: number): ServeOptions => ({
      clock,
      revocations: (now) => new Revocations({ store: stores[i], now }),
    });
    try {
      await withServed(options(0), async (one) => {
        await withServed(options(1), async (two) => {
          const a = await one.signIn("alice", ALICE_PASSWORD);
          const b = await one.signIn("bob", BOB_PASSWORD);
          const b2 = await two.signIn("bob", BOB_PASSWORD);
          // The same cookie secret: either gateway knows every cookie.
          assertEquals((await two.me(a.cookie))?.user, "alice");
          await one.signOut(a.cookie!);
          assertEquals(await two.me(a.cookie), null);
          clock.now += 1;
          two.auth.signOutEverywhere("bob");
          assertEquals(await one.me(b.cookie), null);
          assertEquals(await one.me(b2.cookie), null);

          // Pruned only once the cookies would have expired anyway.
          const revocations = new Revocations({
            store: stores[0],
            now: () => clock.now,
          });
          clock.now = T0 + TTL * 1000;
          revocations.prune();
          assertEquals(await two.me(a.cookie), null);
          const count = (table: string) => {
            const db = new DatabaseSync(path);
            try {
              const row = db.prepare(`SELECT count(*) AS n FROM ${table}`)
                .get() as { n: number };
              return Number(row.n);
            } finally {
              db.close();
            }
          };
          assertEquals(count("revoked_signins"), 1);
          assertEquals(count("revoked_users"), 1);
          clock.now = T0 + TTL * 1000 + 2;
          revocations.prune();
          assertEquals(count("revoked_signins"), 0);
          assertEquals(count("revoked_users"), 0);
        });
      });
    } finally {
      for (const store of stores) store.close();
    }
  });
});

Deno.test("a shortened sessionTtl applies to cookies already issued", async () => {
  const clock = { now: T0 };
  let cookie: string | undefined;
  await withServed({ clock }, async (served) => {
    cookie = (await served.signIn("bob", BOB_PASSWORD)).cookie;
  });
  // Restarted with a 60 s lifetime: the hour-long cookie lasts 60 s.
  const settings = { ...authSettings(), sessionTtl: 60 };
  await withServed({ clock, settings }, async (served) => {
    clock.now = T0 + 60_000;
    assertEquals((await served.me(cookie))?.user, "bob");
    clock.now = T0 + 60_001;
    assertEquals(await served.me(cookie), null);
  });
});

Deno.test("a cookie without a sign-in id (an older release's) is refused", async () => {
  await withServed({}, async (served) => {
    const response = await fetch(`${served.url}/legacy`, { method: "POST" });
    await response.body?.cancel();
    const cookie = response.headers.getSetCookie()[0].split(";")[0];
    assertMatch(decodeURIComponent(cookie), /"u":"bob"/);
    assertEquals(await served.me(cookie), null);
  });
});

Deno.test("a trusted header is believed only from a listed proxy", async (t) => {
  const header = {
    user: "X-Forwarded-User",
    groups: "X-Forwarded-Groups",
    trustedProxies: ["127.0.0.1"],
  };

  await t.step("from a listed proxy, with groups", async () => {
    await withServed(
      { settings: authSettings({ trustedHeader: header }) },
      async (served) => {
        assertEquals(
          await served.me(undefined, {
            "X-Forwarded-User": " carol ",
            "X-Forwarded-Groups": "eng, ops,,  staff ",
          }),
          { user: "carol", groups: ["eng", "ops", "staff"], admin: false },
        );
        // The admin flag comes from the configured user of that name.
        assertEquals(
          await served.me(undefined, { "X-Forwarded-User": "alice" }),
          { user: "alice", groups: [], admin: true },
        );
        // No header, no cookie: nobody.
        assertEquals(await served.me(), null);
        assertEquals(
          await served.me(undefined, { "X-Forwarded-User": "  " }),
          null,
        );
      },
    );
  });

  await t.step("without a groups header configured", async () => {
    const noGroups = { user: header.user, trustedProxies: ["127.0.0.1"] };
    await withServed(
      { settings: authSettings({ trustedHeader: noGroups }) },
      async (served) => {
        assertEquals(
          await served.me(undefined, {
            "X-Forwarded-User": "carol",
            "X-Forwarded-Groups": "ops",
          }),
          { user: "carol", groups: [], admin: false },
        );
      },
    );
  });

  await t.step("from an address not listed", async () => {
    const elsewhere = { ...header, trustedProxies: ["192.0.2.10", "::1"] };
    await withServed(
      { settings: authSettings({ trustedHeader: elsewhere }) },
      async (served) => {
        assertEquals(
          await served.me(undefined, {
            "X-Forwarded-User": "alice",
            "X-Forwarded-Groups": "ops",
          }),
          null,
        );
        // A password sign-in still works there.
        const { cookie } = await served.signIn("bob", BOB_PASSWORD);
        assertEquals(
          (await served.me(cookie, { "X-Forwarded-User": "alice" }))?.user,
          "bob",
        );
      },
    );
  });

  await t.step("no trusted header configured", async () => {
    await withServed({}, async (served) => {
      assertEquals(
        await served.me(undefined, { "X-Forwarded-User": "alice" }),
        null,
      );
    });
  });
});

Deno.test("the admin flag comes from the configuration, not the cookie", async () => {
  let cookie: string | undefined;
  await withServed({}, async (served) => {
    const signed = await served.signIn("bob", BOB_PASSWORD);
    assertEquals((signed.result as Identity).admin, false);
    cookie = signed.cookie;
  });
  // Bob made an admin (and moved groups) after signing in.
  const promoted = authSettings({
    users: [USERS[0], { ...USERS[1], admin: true, groups: ["ops"] }],
  });
  await withServed({ settings: promoted }, async (served) => {
    assertEquals(await served.me(cookie), {
      user: "bob",
      groups: ["ops"],
      admin: true,
    });
  });
  // And demoted again.
  await withServed({}, async (served) => {
    assertEquals((await served.me(cookie))?.admin, false);
  });
});

/** An authenticator behind a Hono app called in-process from any address. */
function direct(settings: AuthSettings = authSettings()) {
  const clock = { now: T0 };
  const auth = createAuthenticator({
    settings,
    cookieSecret: SECRET,
    secureCookie: false,
    now: () => clock.now,
  });
  const app = new Hono();
  // The credentials come in headers so that a call reaches signIn() before
  // its first await: calls made in one turn are all in flight together.
  app.post("/signin", async (c) =>
    c.json({
      result: (await auth.signIn(
        c,
        c.req.header("x-user") ?? "",
        c.req.header("x-password") ?? "",
      )) ?? null,
    }));
  app.get(
    "/me",
    async (c) => c.json({ identity: (await auth.identify(c)) ?? null }),
  );
  const call = async (
    request: Request,
    address: string,
  ): Promise<Record<string, unknown>> => {
    const env = {
      remoteAddr: { hostname: address, port: 40000, transport: "tcp" },
    };
    return await (await app.fetch(request, env)).json();
  };
  return {
    clock,
    signIn: async (user: string, password: string, address = "127.0.0.1") =>
      (await call(
        new Request("http://gateway.test/signin", {
          method: "POST",
          headers: { "x-user": user, "x-password": password },
        }),
        address,
      )).result as Identity | "locked" | "busy" | null,
    me: async (headers: HeadersInit, address: string) =>
      (await call(new Request("http://gateway.test/me", { headers }), address))
        .identity as Identity | null,
  };
}

Deno.test("more than four password checks at once: the fifth is told busy", async () => {
  const gateway = direct();
  const results = await Promise.all(
    Array.from({ length: 5 }, () => gateway.signIn("bob", BOB_PASSWORD)),
  );
  assertEquals(results.map((r) => typeof r === "object" ? r?.user : r), [
    "bob",
    "bob",
    "bob",
    "bob",
    "busy",
  ]);
  // Once they are done, checks run again.
  assertEquals(
    ((await gateway.signIn("bob", BOB_PASSWORD)) as Identity).user,
    "bob",
  );
  // Being told "busy" is not a failed sign-in: five of them lock nothing.
  for (let n = 0; n < 5; n++) {
    const round = await Promise.all([
      ...Array.from({ length: 4 }, () => gateway.signIn("bob", BOB_PASSWORD)),
      gateway.signIn("alice", "a wrong password", "192.0.2.9"),
    ]);
    assertEquals(round[4], "busy");
  }
  const alice = await gateway.signIn("alice", ALICE_PASSWORD, "192.0.2.9");
  assertEquals((alice as Identity).user, "alice");
});

Deno.test("a lock-out holds for the name at that address only", async () => {
  const gateway = direct();
  for (let n = 1; n <= 5; n++) {
    assertEquals(
      await gateway.signIn("alice", `guess ${n}`, "192.0.2.1"),
      null,
    );
  }
  assertEquals(
    await gateway.signIn("alice", ALICE_PASSWORD, "192.0.2.1"),
    "locked",
  );
  // The same address written as an IPv4-mapped IPv6 address is the same.
  assertEquals(
    await gateway.signIn("alice", ALICE_PASSWORD, "::ffff:192.0.2.1"),
    "locked",
  );
  // Someone elsewhere cannot lock alice out.
  const elsewhere = await gateway.signIn("alice", ALICE_PASSWORD, "192.0.2.2");
  assertEquals((elsewhere as Identity).user, "alice");
  const v6 = await gateway.signIn("alice", ALICE_PASSWORD, "2001:db8::7");
  assertEquals((v6 as Identity).user, "alice");
  // Other names at the locked address are not affected either.
  assertEquals(
    ((await gateway.signIn("bob", BOB_PASSWORD, "192.0.2.1")) as Identity).user,
    "bob",
  );
});

Deno.test("the failure table is bounded: the oldest entries go first", async () => {
  // A cheap hash keeps 10,000 failed checks quick.
  const cheap: GatewayUser = {
    name: "cheap",
    passwordHash: await hashPassword("cheap-password", { N: 2, r: 1, p: 1 }),
    groups: [],
    admin: false,
  };
  const gateway = direct(authSettings({ users: [cheap] }));
  for (let n = 1; n <= 5; n++) {
    await gateway.signIn("cheap", "wrong", "10.0.0.1");
  }
  assertEquals(
    await gateway.signIn("cheap", "cheap-password", "10.0.0.1"),
    "locked",
  );
  // 10,000 more addresses fail once each, four at a time.
  for (let i = 0; i < 10_000; i += 4) {
    await Promise.all([0, 1, 2, 3].map((j) => {
      const n = i + j;
      return gateway.signIn("cheap", "wrong", `10.1.${n >> 8}.${n & 255}`);
    }));
  }
  // The first address was the oldest entry: forgotten, so no longer locked.
  const back = await gateway.signIn("cheap", "cheap-password", "10.0.0.1");
  assertEquals((back as Identity).user, "cheap");
  // Recent entries are still there.
  for (let n = 1; n <= 4; n++) {
    await gateway.signIn("cheap", "wrong", "10.1.39.15");
  }
  assertEquals(
    await gateway.signIn("cheap", "cheap-password", "10.1.39.15"),
    "locked",
  );
});

Deno.test("a trusted proxy matches its IPv4-mapped IPv6 form", async () => {
  const header = { user: "X-Forwarded-User", trustedProxies: ["1.2.3.4"] };
  const gateway = direct(authSettings({ trustedHeader: header }));
  const carol = { "X-Forwarded-User": "carol" };
  for (const address of ["1.2.3.4", "::ffff:1.2.3.4", "::FFFF:1.2.3.4"]) {
    assertEquals((await gateway.me(carol, address))?.user, "carol", address);
  }
  for (
    const address of ["1.2.3.5", "::ffff:1.2.3.5", "::1"]
  ) {
    assertEquals(await gateway.me(carol, address), null, address);
  }
  // And the other way round: the proxy listed in its mapped form.
  const mapped = direct(authSettings({
    trustedHeader: { ...header, trustedProxies: ["::ffff:1.2.3.4"] },
  }));
  assertEquals((await mapped.me(carol, "1.2.3.4"))?.user, "carol");
});
