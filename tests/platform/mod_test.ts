/** The platform for this OS and the account mode it resolves to. */
import { createLogger } from "../../mod/log/mod.ts";
import { createPlatform } from "../../mod/platform/mod.ts";
import { assertEquals } from "../support/assert.ts";

const logger = createLogger({ sink: () => {} });

Deno.test({
  name: "Linux gets the Linux platform; auto picks real accounts only as root",
  ignore: Deno.build.os !== "linux",
  fn() {
    const auto = createPlatform({ accountMode: "auto", logger });
    assertEquals(auto.name, "linux");
    assertEquals(auto.accountMode, Deno.uid() === 0 ? "system" : "current");
    assertEquals(
      createPlatform({ accountMode: "current", logger }).accountMode,
      "current",
    );
    assertEquals(auto.capabilities.includes("xvfb"), true);
  },
});
