/**
 * Windows service mode: `install-service`, `uninstall-service` and
 * `run-service` (what the service control manager runs). On other systems
 * each command exits 1 with what to use instead.
 *
 * @module
 */
export {
  absoluteConfigPath,
  installService,
  type InstallServiceOptions,
  serviceCommandLine,
} from "./install.ts";
export { uninstallService, type UninstallServiceOptions } from "./uninstall.ts";
export { runService, type RunServiceOptions } from "./run.ts";
export {
  buildCommandLine,
  quoteExecutable,
  roleArguments,
  type RoleArgumentsOptions,
} from "./command_line.ts";
export {
  notWindowsMessage,
  openServiceApi,
  SERVICE_NAME,
  type ServiceCommandOptions,
  type ServiceCommandResult,
  type ServiceIdentity,
  serviceIdentity,
} from "./common.ts";
