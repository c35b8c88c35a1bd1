/**
 * Assertions for tests, on top of `node:assert` (`@std/assert` lives on JSR,
 * which these machines cannot reach).
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Asserts `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Asserts deep equality. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts deep inequality. */
export function assertNotEquals(
  actual: unknown,
  expected: unknown,
  message?: string,
): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** Asserts `actual > expected`. */
export function assertGreater(
  actual: number,
  expected: number,
  message?: string,
): void {
  nodeAssert.ok(
    actual > expected,
    message ?? `expected ${actual} > ${expected}`,
  );
}

/** Asserts a string matches a pattern. */
export function assertMatch(
  actual: string,
  pattern: RegExp,
  message?: string,
): void {
  nodeAssert.match(actual, pattern, message);
}

/** An error constructor {@linkcode assertThrows} and {@linkcode assertRejects} check for. */
type ErrorClass = new (...args: never[]) => Error;

/** Asserts what was thrown is a `type` (if given) whose message matches. */
function assertThrown(
  error: unknown,
  type?: ErrorClass,
  pattern?: RegExp,
): Error {
  if (type) {
    nodeAssert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  }
  if (pattern) nodeAssert.match((error as Error).message, pattern);
  return error as Error;
}

/** Asserts a function throws, optionally an instance of `type` whose message matches. */
export function assertThrows(
  fn: () => unknown,
  type?: ErrorClass,
  pattern?: RegExp,
): Error {
  try {
    fn();
  } catch (error) {
    return assertThrown(error, type, pattern);
  }
  throw new nodeAssert.AssertionError({ message: "expected a throw" });
}

/** Asserts a promise rejects, optionally with `type` and a matching message. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type?: ErrorClass,
  pattern?: RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return assertThrown(error, type, pattern);
  }
  throw new nodeAssert.AssertionError({ message: "expected a rejection" });
}
