/**
 * Win32 error codes with their names, and the errors the bindings throw:
 * {@linkcode Win32Error} for `GetLastError` / `DWORD`-status / `LSTATUS`
 * failures, {@linkcode NetApiError} for netapi32's `NET_API_STATUS`. Both
 * carry the numeric code and its SDK name, so a log line says
 * `NetUserAdd failed: NERR_UserExists (2224)` rather than a bare number.
 *
 * ## GetLastError and `nonblocking`
 *
 * The last-error value is per thread. A symbol marked `nonblocking` runs on
 * one of Deno's blocking-pool threads, so `GetLastError` on the event-loop
 * thread afterwards would read a different thread's value. Wrappers of such
 * calls therefore never read it: when the call reports its failure only
 * through `GetLastError` (a `BOOL` result), the error carries code
 * `undefined` and says so. Calls that return their status (`NET_API_STATUS`,
 * `LSTATUS`, `DWORD`) are exact either way.
 *
 * Even on the event-loop thread, Deno does not capture the last error right
 * after an FFI call, so the runtime may overwrite it before `GetLastError`
 * runs. Codes read that way go into messages; decisions use another signal
 * where the API gives one: the size a call wrote back (retry with a larger
 * buffer), the state read back afterwards (a privilege really enabled, a
 * profile really gone).
 *
 * @module
 */

/** Win32 error codes the bindings and the platform meet, by value. */
export const WIN32_ERROR_NAMES: Readonly<Record<number, string>> = {
  0: "ERROR_SUCCESS",
  1: "ERROR_INVALID_FUNCTION",
  2: "ERROR_FILE_NOT_FOUND",
  3: "ERROR_PATH_NOT_FOUND",
  5: "ERROR_ACCESS_DENIED",
  6: "ERROR_INVALID_HANDLE",
  8: "ERROR_NOT_ENOUGH_MEMORY",
  13: "ERROR_INVALID_DATA",
  24: "ERROR_BAD_LENGTH",
  32: "ERROR_SHARING_VIOLATION",
  50: "ERROR_NOT_SUPPORTED",
  87: "ERROR_INVALID_PARAMETER",
  120: "ERROR_CALL_NOT_IMPLEMENTED",
  122: "ERROR_INSUFFICIENT_BUFFER",
  123: "ERROR_INVALID_NAME",
  124: "ERROR_INVALID_LEVEL",
  126: "ERROR_MOD_NOT_FOUND",
  127: "ERROR_PROC_NOT_FOUND",
  157: "ERROR_DISCARDED",
  158: "ERROR_NOT_LOCKED",
  170: "ERROR_BUSY",
  183: "ERROR_ALREADY_EXISTS",
  234: "ERROR_MORE_DATA",
  258: "WAIT_TIMEOUT",
  1008: "ERROR_NO_TOKEN",
  1051: "ERROR_DEPENDENT_SERVICES_RUNNING",
  1052: "ERROR_INVALID_SERVICE_CONTROL",
  1053: "ERROR_SERVICE_REQUEST_TIMEOUT",
  1056: "ERROR_SERVICE_ALREADY_RUNNING",
  1060: "ERROR_SERVICE_DOES_NOT_EXIST",
  1061: "ERROR_SERVICE_CANNOT_ACCEPT_CTRL",
  1062: "ERROR_SERVICE_NOT_ACTIVE",
  1063: "ERROR_FAILED_SERVICE_CONTROLLER_CONNECT",
  1066: "ERROR_SERVICE_SPECIFIC_ERROR",
  1068: "ERROR_SERVICE_DEPENDENCY_FAIL",
  1072: "ERROR_SERVICE_MARKED_FOR_DELETE",
  1073: "ERROR_SERVICE_EXISTS",
  1078: "ERROR_DUPLICATE_SERVICE_NAME",
  1083: "ERROR_SERVICE_NOT_IN_EXE",
  1115: "ERROR_SHUTDOWN_IN_PROGRESS",
  1168: "ERROR_NOT_FOUND",
  1300: "ERROR_NOT_ALL_ASSIGNED",
  1311: "ERROR_NO_LOGON_SERVERS",
  1313: "ERROR_NO_SUCH_PRIVILEGE",
  1314: "ERROR_PRIVILEGE_NOT_HELD",
  1326: "ERROR_LOGON_FAILURE",
  1327: "ERROR_ACCOUNT_RESTRICTION",
  1330: "ERROR_PASSWORD_EXPIRED",
  1331: "ERROR_ACCOUNT_DISABLED",
  1332: "ERROR_NONE_MAPPED",
  1336: "ERROR_INVALID_ACL",
  1337: "ERROR_INVALID_SID",
  1349: "ERROR_BAD_TOKEN_TYPE",
  1355: "ERROR_NO_SUCH_DOMAIN",
  1376: "ERROR_NO_SUCH_ALIAS",
  1377: "ERROR_MEMBER_NOT_IN_ALIAS",
  1378: "ERROR_MEMBER_IN_ALIAS",
  1385: "ERROR_LOGON_TYPE_NOT_GRANTED",
  1387: "ERROR_NO_SUCH_MEMBER",
  1388: "ERROR_INVALID_MEMBER",
  1400: "ERROR_INVALID_WINDOW_HANDLE",
  1402: "ERROR_INVALID_CURSOR_HANDLE",
  1407: "ERROR_CANNOT_FIND_WND_CLASS",
  1418: "ERROR_CLIPBOARD_NOT_OPEN",
  1630: "ERROR_UNSUPPORTED_TYPE",
  1907: "ERROR_PASSWORD_MUST_CHANGE",
  1909: "ERROR_ACCOUNT_LOCKED_OUT",
  7007: "ERROR_CTX_CLOSE_PENDING",
  7022: "ERROR_CTX_WINSTATION_NOT_FOUND",
  7023: "ERROR_CTX_WINSTATION_ALREADY_EXISTS",
  7024: "ERROR_CTX_WINSTATION_BUSY",
  7025: "ERROR_CTX_BAD_VIDEO_MODE",
  7045: "ERROR_CTX_WINSTATION_ACCESS_DENIED",
  7054: "ERROR_CTX_LICENSE_NOT_AVAILABLE",
};

/** `NET_API_STATUS` codes (netapi32) by value; Win32 codes are valid too. */
export const NET_API_STATUS_NAMES: Readonly<Record<number, string>> = {
  2102: "NERR_NetNotStarted",
  2114: "NERR_ServerNotStarted",
  2202: "NERR_BadUsername",
  2203: "NERR_BadPassword",
  2220: "NERR_GroupNotFound",
  2221: "NERR_UserNotFound",
  2223: "NERR_GroupExists",
  2224: "NERR_UserExists",
  2226: "NERR_NotPrimary",
  2234: "NERR_SpeGroupOp",
  2243: "NERR_PasswordCantChange",
  2244: "NERR_PasswordHistConflict",
  2245: "NERR_PasswordTooShort",
  2351: "NERR_InvalidComputer",
  2453: "NERR_DCNotFound",
};

/** `ERROR_SUCCESS` / `NERR_Success`. */
export const ERROR_SUCCESS = 0;

/** The SDK name of a Win32 error code, or `ERROR_<code>` when unknown. */
export function win32ErrorName(code: number): string {
  return WIN32_ERROR_NAMES[code] ?? `ERROR_${code}`;
}

/** The SDK name of a `NET_API_STATUS`, falling back to the Win32 names. */
export function netApiStatusName(code: number): string {
  return NET_API_STATUS_NAMES[code] ?? WIN32_ERROR_NAMES[code] ??
    `NERR_${code}`;
}

/** A Win32 function failed. */
export class Win32Error extends Error {
  /** The function that failed. */
  readonly function: string;
  /** The error code, undefined when it could not be read (see the module doc). */
  readonly code: number | undefined;
  /** The code's SDK name (`ERROR_ACCESS_DENIED`), or `unknown`. */
  readonly codeName: string;

  constructor(fn: string, code: number | undefined) {
    const codeName = code === undefined ? "unknown" : win32ErrorName(code);
    super(
      code === undefined
        ? `${fn} failed (its error code is not readable: the call ran off the event-loop thread)`
        : `${fn} failed: ${codeName} (${code})`,
    );
    this.name = "Win32Error";
    this.function = fn;
    this.code = code;
    this.codeName = codeName;
  }
}

/** A netapi32 function returned a `NET_API_STATUS` other than success. */
export class NetApiError extends Error {
  /** The function that failed. */
  readonly function: string;
  /** The status. */
  readonly code: number;
  /** Its SDK name (`NERR_UserExists`). */
  readonly codeName: string;

  constructor(fn: string, code: number) {
    const codeName = netApiStatusName(code);
    super(`${fn} failed: ${codeName} (${code})`);
    this.name = "NetApiError";
    this.function = fn;
    this.code = code;
    this.codeName = codeName;
  }
}

/** Throws {@linkcode Win32Error} unless `status` (a returned DWORD/LSTATUS) is 0. */
export function checkStatus(fn: string, status: number): void {
  if (status !== ERROR_SUCCESS) throw new Win32Error(fn, status);
}

/** Throws {@linkcode NetApiError} unless `status` is `NERR_Success`. */
export function checkNetStatus(fn: string, status: number): void {
  if (status !== ERROR_SUCCESS) throw new NetApiError(fn, status);
}
