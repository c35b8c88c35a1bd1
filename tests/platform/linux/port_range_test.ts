/**
 * Tests for `mod/platform/linux/port_range.ts`: the kernel's spelling of the
 * ephemeral range is parsed, malformed text is no range, and this machine's
 * range is read (and holds a port the kernel just gave an outgoing
 * connection).
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import {
  ephemeralPortRange,
  parsePortRange,
} from "../../../mod/platform/linux/port_range.ts";

Deno.test("parsePortRange: the kernel's text, and nothing else", () => {
  assertEquals(parsePortRange("32768\t60999\n"), { low: 32768, high: 60999 });
  assertEquals(parsePortRange("1024 65535"), { low: 1024, high: 65535 });
  for (const bad of ["", "32768", "60999\t32768", "1 70000", "a b"]) {
    assertEquals(parsePortRange(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("ephemeralPortRange: a file, or none", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/range`, "40000\t50000\n");
    assertEquals(await ephemeralPortRange(`${dir}/range`), {
      low: 40000,
      high: 50000,
    });
    assertEquals(await ephemeralPortRange(`${dir}/missing`), undefined);
  }, { prefix: "webstream-port-range-" });
});

Deno.test({
  name:
    "ephemeralPortRange: this machine's holds an outgoing connection's port",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const range = await ephemeralPortRange();
    assert(range, "the range is readable");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const [client, accepted] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port }),
      listener.accept(),
    ]);
    try {
      const local = (client.localAddr as Deno.NetAddr).port;
      assert(local >= range.low && local <= range.high, `${local}`);
    } finally {
      client.close();
      accepted.close();
      listener.close();
    }
  },
});
