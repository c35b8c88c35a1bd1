/**
 * Tests for `mod/platform/windows/rdp_client.ts`: FreeRDP's default command
 * expanded for a logon (the password only in standard input), refused
 * templates, and real client processes: standard input delivered, output
 * kept with the password masked, exit and stop reported.
 *
 * @module
 */
import {
  DEFAULT_RDP_CLIENT,
  LOOPBACK_RDP_SERVER,
  rdpLaunch,
  spawnRdpClient,
} from "../../../mod/platform/windows/rdp_client.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

const VALUES = {
  server: LOOPBACK_RDP_SERVER,
  account: "webs01",
  domain: "WSHOST",
  password: "Pool-Passw0rd",
  width: 1280,
  height: 720,
};

Deno.test("rdpLaunch: FreeRDP to 127.0.0.2 with the password on stdin only", () => {
  const launch = rdpLaunch(DEFAULT_RDP_CLIENT, VALUES);
  assertEquals(launch, {
    command: "wfreerdp.exe",
    args: [
      "/v:127.0.0.2",
      "/u:webs01",
      "/d:WSHOST",
      "/from-stdin:force",
      "/cert:ignore",
      "/size:1280x720",
      "/bpp:32",
      "-clipboard",
      "+auto-reconnect",
    ],
    stdin: "Pool-Passw0rd\n",
    secret: "Pool-Passw0rd",
  });
});

Deno.test("rdpLaunch: refuses a password in the arguments and unknown placeholders", () => {
  assertThrows(
    () =>
      rdpLaunch({ command: "x", args: ["/p:{password}"], stdin: "" }, VALUES),
    Error,
    /may not hold \{password\}/,
  );
  assertThrows(
    () =>
      rdpLaunch({ command: "x", args: ["/x:{computer}"], stdin: "" }, VALUES),
    Error,
    /unknown placeholder \{computer\}/,
  );
  assertThrows(
    () => rdpLaunch(DEFAULT_RDP_CLIENT, { ...VALUES, password: "a\nb" }),
    Error,
    /line break/,
  );
});

Deno.test("spawnRdpClient: stdin arrives, output is kept masked, the exit is reported", async () => {
  const seen: string[] = [];
  const client = spawnRdpClient({
    command: Deno.execPath(),
    args: [
      "eval",
      "const b = new Uint8Array(64); const n = await Deno.stdin.read(b);" +
      "const line = new TextDecoder().decode(b.subarray(0, n ?? 0)).trim();" +
      "console.log('read ' + line); console.error('bye'); Deno.exit(7);",
    ],
    stdin: "Pool-Passw0rd\n",
    secret: "Pool-Passw0rd",
  }, { onLine: (line) => seen.push(line) });
  assertEquals(await client.exited, "code 7");
  assertEquals(seen.sort(), ["bye", "read Pool-Passw0rd"]);
  assertEquals(client.output().split("\n").sort(), ["bye", "read [redacted]"]);
  await client.stop(); // already exited: nothing to do
});

Deno.test("spawnRdpClient: stop ends a client that stays connected", async () => {
  const client = spawnRdpClient({
    command: Deno.execPath(),
    args: ["eval", "setInterval(() => {}, 1000)"],
    stdin: "",
    secret: "",
  });
  await client.stop();
  assertEquals(await client.exited, "signal SIGTERM");
});
