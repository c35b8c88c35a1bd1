/**
 * Password hashes: the `scrypt$N$r$p$salt$hash` format (base64 16-byte salt
 * and 32-byte key, default and custom cost), verification true and false,
 * malformed hashes verify false (never throw), and two hashes of one password
 * differ (a fresh salt each time) yet both verify.
 *
 * @module
 */
import {
  hashPassword,
  verifyPassword,
} from "../../../mod/gateway/auth/password.ts";
import { userSchema } from "../../../mod/config/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "../../support/assert.ts";

// A cheap cost keeps the many checks quick; the default is tested once.
const CHEAP = { N: 1024 };

function decode(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

Deno.test("hash format", async () => {
  const hash = await hashPassword("correct horse battery staple");
  assertMatch(
    hash,
    /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/,
  );
  const [, , , , salt, key] = hash.split("$");
  assertEquals(decode(salt).length, 16);
  assertEquals(decode(key).length, 32);
  // The configuration accepts what hash-password prints.
  assert(userSchema.safeParse({ name: "alice", passwordHash: hash }).success);
  assertEquals(
    await verifyPassword("correct horse battery staple", hash),
    true,
  );

  const custom = await hashPassword("pw", { N: 2048, r: 4, p: 2 });
  assertMatch(custom, /^scrypt\$2048\$4\$2\$/);
  assertEquals(await verifyPassword("pw", custom), true);
});

Deno.test("verify: right and wrong passwords", async () => {
  const hash = await hashPassword("s3cret", CHEAP);
  assertEquals(await verifyPassword("s3cret", hash), true);
  assertEquals(await verifyPassword("s3cret ", hash), false);
  assertEquals(await verifyPassword("S3cret", hash), false);
  assertEquals(await verifyPassword("", hash), false);
  // Non-ASCII passwords round-trip.
  const unicode = await hashPassword("pässwörd-日本", CHEAP);
  assertEquals(await verifyPassword("pässwörd-日本", unicode), true);
  assertEquals(await verifyPassword("passwörd-日本", unicode), false);
});

Deno.test("malformed hashes verify false", async () => {
  const good = await hashPassword("pw", CHEAP);
  const [, N, r, p, salt, key] = good.split("$");
  const malformed = {
    "empty": "",
    "plain text": "pw",
    "another scheme": `bcrypt$${N}$${r}$${p}$${salt}$${key}`,
    "too few fields": `scrypt$${N}$${r}$${p}$${salt}`,
    "too many fields": `${good}$extra`,
    "N not a number": `scrypt$abc$${r}$${p}$${salt}$${key}`,
    "N not a power of two": `scrypt$1000$${r}$${p}$${salt}$${key}`,
    "N too small": `scrypt$1$${r}$${p}$${salt}$${key}`,
    "N too large": `scrypt$${2 ** 24}$${r}$${p}$${salt}$${key}`,
    "r zero": `scrypt$${N}$0$${p}$${salt}$${key}`,
    "r negative": `scrypt$${N}$-8$${p}$${salt}$${key}`,
    "p zero": `scrypt$${N}$${r}$0$${salt}$${key}`,
    "p fractional": `scrypt$${N}$${r}$1.5$${salt}$${key}`,
    "p beyond scrypt's memory cap": `scrypt$${N}$${r}$99999$${salt}$${key}`,
    "salt not base64": `scrypt$${N}$${r}$${p}$!!!$${key}`,
    "key not base64": `scrypt$${N}$${r}$${p}$${salt}$%%%`,
    "empty key": `scrypt$${N}$${r}$${p}$${salt}$`,
    "short key": `scrypt$${N}$${r}$${p}$${salt}$${key.slice(0, 20)}`,
  };
  for (const [what, hash] of Object.entries(malformed)) {
    let result: boolean | string;
    try {
      result = await verifyPassword("pw", hash);
    } catch (error) {
      result = `threw ${(error as Error).message}`;
    }
    assertEquals(result, false, `${what}: ${hash}`);
  }
});

Deno.test("two hashes of one password differ", async () => {
  const first = await hashPassword("same", CHEAP);
  const second = await hashPassword("same", CHEAP);
  assertNotEquals(first, second);
  assertNotEquals(first.split("$")[4], second.split("$")[4], "same salt");
  assertEquals(await verifyPassword("same", first), true);
  assertEquals(await verifyPassword("same", second), true);
  // A key moved onto another salt no longer matches.
  const [scheme, N, r, p, salt] = first.split("$");
  const swapped = [scheme, N, r, p, salt, second.split("$")[5]].join("$");
  assertEquals(await verifyPassword("same", swapped), false);
});
