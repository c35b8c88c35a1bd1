/**
 * Tests for `mod/platform/linux/xauth.ts`: Xauthority encoding and decoding
 * round trip, the exact bytes of one FamilyWild MIT-MAGIC-COOKIE-1 entry (and
 * that the real `xauth` tool reads it), and, against a real Xvfb started with
 * `-auth` on such a file, that `xdpyinfo` is let in with `XAUTHORITY` set to
 * that file and refused with a different cookie.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "../../support/assert.ts";
import { runCommand } from "../../support/command.ts";
import { xdpyinfo } from "../../support/x11.ts";
import {
  COOKIE_NAME,
  decodeXauthority,
  encodeXauthority,
  FAMILY_WILD,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import { stopProcessGroup } from "../../../mod/platform/linux/processes.ts";

const COOKIE = Uint8Array.from({ length: 16 }, (_, i) => i * 17);

Deno.test("encodeXauthority: the exact bytes of one FamilyWild entry", () => {
  const bytes = encodeXauthority([{ cookie: COOKIE }]);
  const name = [...new TextEncoder().encode("MIT-MAGIC-COOKIE-1")];
  assertEquals([...bytes], [
    0xff,
    0xff, // family: FamilyWild, big-endian
    0x00,
    0x00, // address length 0
    0x00,
    0x00, // display length 0 (any display)
    0x00,
    0x12, // name length 18
    ...name,
    0x00,
    0x10, // cookie length 16
    ...COOKIE,
  ]);
  assertEquals(bytes.length, 44);
  assertEquals(COOKIE_NAME, "MIT-MAGIC-COOKIE-1");
  assertEquals(FAMILY_WILD, 0xffff);
});

Deno.test("encode/decode: round trip of several entries", () => {
  const entries = [
    { cookie: COOKIE },
    {
      family: 256, // FamilyLocal
      address: new TextEncoder().encode("host.example"),
      display: "17",
      cookie: newCookie(),
    },
  ];
  const decoded = decodeXauthority(encodeXauthority(entries));
  assertEquals(decoded, [
    {
      family: FAMILY_WILD,
      address: new Uint8Array(),
      display: "",
      cookie: COOKIE,
    },
    entries[1],
  ]);
  assertEquals(decodeXauthority(new Uint8Array()), []);
});

Deno.test("decodeXauthority: skips other protocols, rejects truncation", () => {
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const text = (s: string) => {
    const b = [...new TextEncoder().encode(s)];
    return [...u16(b.length), ...b];
  };
  const other = [
    ...u16(FAMILY_WILD),
    ...u16(0),
    ...text("0"),
    ...text("XDM-AUTHORIZATION-1"),
    ...u16(2),
    1,
    2,
  ];
  const ours = encodeXauthority([{ cookie: COOKIE, display: "5" }]);
  const decoded = decodeXauthority(new Uint8Array([...other, ...ours]));
  assertEquals(decoded.length, 1);
  assertEquals(decoded[0].display, "5");
  assertEquals(decoded[0].cookie, COOKIE);

  assertThrows(
    () => decodeXauthority(ours.slice(0, ours.length - 3)),
    Error,
    /truncated/,
  );
  // A view into a larger buffer decodes from its own offset.
  const padded = new Uint8Array(ours.length + 8);
  padded.set(ours, 4);
  assertEquals(decodeXauthority(padded.subarray(4, 4 + ours.length)), decoded);
});

Deno.test("newCookie: 16 random bytes", () => {
  const a = newCookie();
  const b = newCookie();
  assertEquals(a.length, 16);
  assertEquals(b.length, 16);
  assertNotEquals([...a], [...b]);
});

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("encodeXauthority: the xauth tool reads the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webstream-xauth-" });
  try {
    const file = `${dir}/Xauthority`;
    await Deno.writeFile(file, encodeXauthority([{ cookie: COOKIE }]));
    const listed = await runCommand("xauth", { args: ["-f", file, "list"] });
    assert(listed.ok, listed.stderr);
    // xauth prints family#address#:display; here FamilyWild, no address, no display.
    assertMatch(
      listed.stdout.trim(),
      new RegExp(`^#ffff##:\\s+MIT-MAGIC-COOKIE-1\\s+${hex(COOKIE)}$`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts Xvfb on `authFile` and returns its child and display number. */
async function startServer(
  authFile: string,
): Promise<{ child: Deno.ChildProcess; display: number }> {
  const child = new Deno.Command("Xvfb", {
    args: [
      "-displayfd",
      "1",
      "-auth",
      authFile,
      "-nolisten",
      "tcp",
      "-screen",
      "0",
      "320x240x24",
    ],
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Xvfb exited before reporting a display");
      text += value;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  child.stdout.cancel().catch(() => {});
  return { child, display: Number(text.trim()) };
}

Deno.test({
  name: "Xvfb -auth: the cookie's file lets xdpyinfo in, another cookie not",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "webstream-xauth-" });
    let server: { child: Deno.ChildProcess; display: number } | undefined;
    try {
      const good = `${dir}/good`;
      const bad = `${dir}/bad`;
      await Deno.writeFile(good, encodeXauthority([{ cookie: newCookie() }]), {
        mode: 0o600,
      });
      await Deno.writeFile(bad, encodeXauthority([{ cookie: newCookie() }]), {
        mode: 0o600,
      });
      server = await startServer(good);
      const display = `:${server.display}`;
      assert(Number.isInteger(server.display), display);

      const allowed = await xdpyinfo(display, good);
      assert(allowed.ok, allowed.stderr);
      assertMatch(allowed.stdout, /dimensions:\s+320x240 pixels/);

      const refused = await xdpyinfo(display, bad);
      assertEquals(refused.ok, false);
      assertMatch(refused.stderr, /unable to open display/);

      const none = await xdpyinfo(display, `${dir}/missing`);
      assertEquals(none.ok, false);
    } finally {
      // SIGTERM first so that Xvfb removes its socket.
      if (server) await stopProcessGroup(server.child, { graceMs: 5_000 });
      await Deno.remove(dir, { recursive: true });
    }
  },
});
