/**
 * The `webstream` command: the first argument selects the role. Roles are
 * loaded on demand so a streamer starting in a fresh session loads only what
 * it needs.
 *
 * @module
 */
import {
  parseCli,
  type RoleCommand,
  USAGE,
  UsageError,
} from "./mod/cli/mod.ts";
import { createLogger, type Logger } from "./mod/log/mod.ts";
import type { RoleHandle } from "./mod/roles/common.ts";

/** Runs webstream with `args` and returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseCli(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`webstream: ${error.message}\n\n${USAGE}`);
    return 2;
  }

  switch (command.kind) {
    case "help":
      console.log(USAGE);
      return 0;
    case "version": {
      const { VERSION } = await import("./mod/version.ts");
      console.log(`webstream ${VERSION}`);
      return 0;
    }
    case "streamer": {
      const { runStreamer } = await import("./mod/streamer/mod.ts");
      const result = await runStreamer({
        ...command,
        logger: createLogger({ component: "streamer" }),
      });
      return result.code;
    }
    case "file-dialog": {
      const { runFileDialog } = await import("./mod/streamer/file_dialog.ts");
      const result = await runFileDialog(command);
      if (result.path) console.log(result.path);
      if (result.error) console.error(`webstream file-dialog: ${result.error}`);
      return result.code;
    }
    case "download": {
      const { runDownload } = await import(
        "./mod/streamer/download_command.ts"
      );
      const result = await runDownload(command.file);
      if (result.code === 0) console.log(result.text);
      else console.error(`webstream download: ${result.text}`);
      return result.code;
    }
    case "config-check": {
      const { loadConfig, redactConfig, ConfigError } = await import(
        "./mod/config/mod.ts"
      );
      try {
        const config = await loadConfig(command.file);
        console.log(`${command.file}: valid`);
        console.log(JSON.stringify(redactConfig(config), null, 2));
        return 0;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        console.error(error.message);
        return 1;
      }
    }
    case "hash-password":
      return await hashPasswordCommand();
    case "store-migrate": {
      const { loadConfig, ConfigError } = await import("./mod/config/mod.ts");
      const { migrateStore } = await import("./mod/gateway/store_migrate.ts");
      try {
        const config = await loadConfig(command.config);
        const result = await migrateStore(config, {
          fromSqlite: command.fromSqlite,
        });
        (result.code === 0 ? console.log : console.error)(result.message);
        return result.code;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        console.error(error.message);
        return 1;
      }
    }
    case "gateway":
    case "farm":
    case "backend":
    case "sm":
      return await serve(command);
    case "install-service":
    case "uninstall-service":
    case "run-service": {
      const service = await import("./mod/service/mod.ts");
      const result = command.kind === "install-service"
        ? await service.installService(command.role)
        : command.kind === "uninstall-service"
        ? await service.uninstallService()
        : await service.runService(command.role, {
          start: (logger) => startRole(command.role, logger),
        });
      if (result.message) {
        (result.code === 0 ? console.log : console.error)(result.message);
      }
      return result.code;
    }
  }
}

async function hashPasswordCommand(): Promise<number> {
  const { hashPassword } = await import("./mod/gateway/auth/password.ts");
  const tty = Deno.stdin.isTerminal();
  if (tty) {
    Deno.stderr.writeSync(new TextEncoder().encode("Password: "));
    Deno.stdin.setRaw(true, { cbreak: true });
  }
  let password = "";
  try {
    const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
      .getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      password += value;
      if (tty && /[\r\n]/.test(value)) break;
    }
    reader.releaseLock();
  } finally {
    if (tty) {
      Deno.stdin.setRaw(false);
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    }
  }
  password = password.replace(/\r?\n$/, "").replace(/[\r\n].*$/s, "");
  if (!password) {
    console.error("webstream: no password given on standard input");
    return 1;
  }
  console.log(await hashPassword(password));
  return 0;
}

/**
 * Starts a server role from its configuration.
 *
 * @throws {ConfigError} when the configuration is invalid; whatever the
 *   role's start throws otherwise.
 */
async function startRole(
  command: RoleCommand,
  logger: Logger,
): Promise<RoleHandle> {
  const { loadConfig } = await import("./mod/config/mod.ts");
  const config = await loadConfig(command.config);
  const roles = await import("./mod/roles/mod.ts");
  return command.kind === "backend"
    ? await roles.startBackend(config, { tags: command.tags, logger })
    : command.kind === "gateway"
    ? await roles.startGatewayRole(config, { logger })
    : command.kind === "farm"
    ? await roles.startFarm(config, { logger })
    : await roles.startStandalone(config, { logger });
}

/**
 * Runs a role in the foreground until SIGINT, SIGTERM or SIGHUP (SIGINT or
 * SIGBREAK on Windows), then stops it cleanly (once started, when the
 * signal came while it started).
 */
async function serve(command: RoleCommand): Promise<number> {
  const logger = createLogger({ component: command.kind });
  // Listened for before the role starts: a signal while it starts (a pool
  // starting sessions, a gateway client registering) stops it once it is
  // up, instead of ending the process at once and leaving sessions behind.
  // From roles/mod.ts: imported from roles/common.ts (a type-only import
  // above), the roles' npm packages fell out of the graph that
  // `deno install --entrypoint main.ts` caches and checkDenoCache checks.
  const { waitForShutdownSignal } = await import("./mod/roles/mod.ts");
  const signalled = waitForShutdownSignal();
  let handle;
  try {
    handle = await startRole(command, logger);
  } catch (error) {
    const { ConfigError } = await import("./mod/config/mod.ts");
    if (error instanceof ConfigError) {
      console.error(error.message);
    } else {
      logger.error("could not start", { error });
    }
    return 1;
  }
  const signal = await signalled;
  logger.info("shutting down", { signal });
  await handle.stop();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
