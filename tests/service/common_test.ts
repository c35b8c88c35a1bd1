/**
 * Tests for what the service commands share: the service name, each role's
 * display name, description and dependencies, and the messages on systems
 * other than Windows (each says what to use there instead).
 *
 * @module
 */
import {
  notWindowsMessage,
  SERVICE_NAME,
  serviceIdentity,
} from "../../mod/service/common.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

Deno.test("the service is called webstream", () => {
  assertEquals(SERVICE_NAME, "webstream");
});

Deno.test("serviceIdentity: session host, session manager, gateway", () => {
  const backend = serviceIdentity({ kind: "backend", tags: [] });
  assertEquals(backend.displayName, "webstream session host");
  assertMatch(backend.description, /streams Windows applications/);
  // Every session is an RDP session: Remote Desktop Services first.
  assertEquals(backend.dependencies, ["TermService"]);
  assertEquals(serviceIdentity({ kind: "sm" }).dependencies, ["TermService"]);
  const gateway = serviceIdentity({ kind: "gateway" });
  assertEquals(gateway.displayName, "webstream gateway");
  assertEquals(gateway.dependencies, []);
});

Deno.test("notWindowsMessage says what to do on Linux", () => {
  assertEquals(
    notWindowsMessage("install-service", {
      kind: "backend",
      tags: ["gpu", "autocad"],
      config: "/etc/webstream/webstream.yaml",
    }),
    "webstream install-service is for Windows; on Linux use a systemd unit " +
      "(ExecStart=/usr/local/bin/webstream -backend -tags gpu,autocad " +
      "-config /etc/webstream/webstream.yaml, Restart=on-failure, " +
      "KillMode=process).",
  );
  assertMatch(
    notWindowsMessage("uninstall-service"),
    /^webstream uninstall-service is for Windows; .*systemctl disable --now webstream/,
  );
  assertMatch(
    notWindowsMessage("run-service", { kind: "gateway" }),
    /run-service is what the Windows service control manager runs; .*webstream -gateway/,
  );
});
