/**
 * Tests for `mod/pool/errors.ts`: each error says what it is, and an
 * exhausted pool says when to retry.
 */
import {
  PoolExhaustedError,
  PoolUnavailableError,
  SessionGoneError,
} from "../../mod/pool/errors.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("pool errors carry their name, message and retry delay", () => {
  const exhausted = new PoolExhaustedError(30);
  assertEquals(exhausted.name, "PoolExhaustedError");
  assertEquals(exhausted.message, "no pool session is available");
  assertEquals(exhausted.retryAfter, 30);
  const unavailable = new PoolUnavailableError("the pool is starting");
  assertEquals(unavailable.name, "PoolUnavailableError");
  assertEquals(unavailable.message, "the pool is starting");
  const gone = new SessionGoneError("session ended");
  assertEquals(gone.name, "SessionGoneError");
  for (const error of [exhausted, unavailable, gone]) {
    assert(error instanceof Error);
  }
});
