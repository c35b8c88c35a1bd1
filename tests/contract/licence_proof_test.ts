/**
 * Licence proofs: `licenceProof` is the HMAC-SHA256 (lowercase hex) of
 * `webstream-licence:<session id>` under the farm's shared secret — checked
 * against an HMAC computed independently with node:crypto — so it differs
 * per session and per secret; `verifyLicenceProof` accepts exactly that
 * proof and refuses another session's, another secret's, a truncated, an
 * upper-case or an empty one.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import {
  LICENCE_PROOF_ENV,
  licenceProof,
  verifyLicenceProof,
} from "../../mod/contract/licence_proof.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const SECRET = "farm-secret-for-licence-proofs";
const SESSION = "8a6f8f7e-3f5c-4f52-9a57-1f1f0f3c9b10";
const OTHER = "0f9d2b1c-7e6a-4c3b-8d2e-5a4b3c2d1e0f";

Deno.test("licenceProof is the HMAC-SHA256 of the session id under the secret", async () => {
  const proof = await licenceProof(SECRET, SESSION);
  assertMatch(proof, /^[0-9a-f]{64}$/);
  const expected = createHmac("sha256", SECRET)
    .update(`webstream-licence:${SESSION}`)
    .digest("hex");
  assertEquals(proof, expected);
  // The same inputs, the same proof; other inputs, another.
  assertEquals(await licenceProof(SECRET, SESSION), proof);
  assert(await licenceProof(SECRET, OTHER) !== proof);
  assert(await licenceProof(`${SECRET}x`, SESSION) !== proof);
  assertEquals(LICENCE_PROOF_ENV, "WEBSTREAM_LICENCE_PROOF");
});

Deno.test("verifyLicenceProof accepts that proof and nothing else", async () => {
  const proof = await licenceProof(SECRET, SESSION);
  assertEquals(await verifyLicenceProof(SECRET, SESSION, proof), true);
  const wrong: [string, string][] = [
    ["another session's", await licenceProof(SECRET, OTHER)],
    [
      "another secret's",
      await licenceProof("another-secret-entirely", SESSION),
    ],
    ["a truncated", proof.slice(0, 63)],
    ["a longer", `${proof}0`],
    ["an upper-case", proof.toUpperCase()],
    ["an empty", ""],
  ];
  for (const [what, candidate] of wrong) {
    assertEquals(
      await verifyLicenceProof(SECRET, SESSION, candidate),
      false,
      `${what} proof`,
    );
  }
  assertEquals(await verifyLicenceProof(SECRET, OTHER, proof), false);
});
