/**
 * advapi32: logon and processes in a user's session, token privileges, SIDs
 * and account lookups, NTFS DENY ACEs, and registry hives. (The service
 * control manager is in `services.ts`.)
 *
 * Same shape as `kernel32.ts`: {@linkcode ADVAPI32_SYMBOLS}, the raw
 * {@linkcode Advapi32Symbols}, {@linkcode openAdvapi32}, and the
 * {@linkcode Advapi32} wrapper over raw functions plus a `Kernel32` wrapper
 * (for `GetLastError`, `CloseHandle`, `LocalFree`).
 *
 * `nonblocking` calls (see `errors.ts`): `LogonUserW` (may ask a domain
 * controller), `RegLoadKeyW` / `RegUnLoadKeyW` (hive file I/O) and
 * `SetNamedSecurityInfoW` (propagates inheritance over a whole tree). The
 * last three return their status, so they stay exact; a failed `LogonUserW`
 * carries no code.
 *
 * @module
 */
import { checkStatus, Win32Error } from "./errors.ts";
import type { Kernel32 } from "./kernel32.ts";
import {
  addressOf,
  copyFrom,
  defineStruct,
  encodeStruct,
  keepAlive,
  OutParam,
  pointerAt,
  readField,
  viewOf,
  writeField,
} from "./struct.ts";
import { fromWide, readWide, wide } from "./strings.ts";
import { checkSid } from "./sid.ts";

/** advapi32's symbols used by webstream (the service control manager aside). */
export const ADVAPI32_SYMBOLS = {
  // Logon may go to a domain controller: off the event loop.
  LogonUserW: {
    parameters: ["buffer", "buffer", "buffer", "u32", "u32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  CreateProcessAsUserW: {
    parameters: [
      "pointer", // hToken
      "buffer", // lpApplicationName
      "buffer", // lpCommandLine (writable)
      "pointer", // lpProcessAttributes
      "pointer", // lpThreadAttributes
      "i32", // bInheritHandles
      "u32", // dwCreationFlags
      "pointer", // lpEnvironment
      "buffer", // lpCurrentDirectory
      "buffer", // lpStartupInfo
      "buffer", // lpProcessInformation
    ],
    result: "i32",
  },
  OpenProcessToken: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  LookupPrivilegeValueW: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
  },
  AdjustTokenPrivileges: {
    parameters: ["pointer", "i32", "buffer", "u32", "buffer", "buffer"],
    result: "i32",
  },
  // (HANDLE TokenHandle, TOKEN_INFORMATION_CLASS, LPVOID TokenInformation,
  //  DWORD TokenInformationLength, PDWORD ReturnLength) -> BOOL
  GetTokenInformation: {
    parameters: ["pointer", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  ConvertStringSidToSidW: { parameters: ["buffer", "buffer"], result: "i32" },
  ConvertSidToStringSidW: { parameters: ["buffer", "buffer"], result: "i32" },
  GetLengthSid: { parameters: ["pointer"], result: "u32" },
  LookupAccountSidW: {
    parameters: [
      "buffer", // lpSystemName
      "buffer", // Sid
      "buffer", // Name
      "buffer", // cchName
      "buffer", // ReferencedDomainName
      "buffer", // cchReferencedDomainName
      "buffer", // peUse
    ],
    result: "i32",
  },
  LookupAccountNameW: {
    parameters: [
      "buffer", // lpSystemName
      "buffer", // lpAccountName
      "buffer", // Sid
      "buffer", // cbSid
      "buffer", // ReferencedDomainName
      "buffer", // cchReferencedDomainName
      "buffer", // peUse
    ],
    result: "i32",
  },
  GetNamedSecurityInfoW: {
    parameters: [
      "buffer", // pObjectName
      "u32", // ObjectType
      "u32", // SecurityInfo
      "buffer", // ppsidOwner
      "buffer", // ppsidGroup
      "buffer", // ppDacl
      "buffer", // ppSacl
      "buffer", // ppSecurityDescriptor
    ],
    result: "u32",
  },
  SetEntriesInAclW: {
    parameters: ["u32", "buffer", "pointer", "buffer"],
    result: "u32",
  },
  // Propagates inheritable ACEs to every existing child: can walk a big tree.
  SetNamedSecurityInfoW: {
    parameters: [
      "buffer", // pObjectName
      "u32", // ObjectType
      "u32", // SecurityInfo
      "pointer", // psidOwner
      "pointer", // psidGroup
      "pointer", // pDacl
      "pointer", // pSacl
    ],
    result: "u32",
    nonblocking: true,
  },
  // Hive file I/O.
  RegLoadKeyW: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  RegUnLoadKeyW: {
    parameters: ["pointer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  RegOpenKeyExW: {
    parameters: ["pointer", "buffer", "u32", "u32", "buffer"],
    result: "i32",
  },
  RegCreateKeyExW: {
    parameters: [
      "pointer", // hKey
      "buffer", // lpSubKey
      "u32", // Reserved
      "buffer", // lpClass
      "u32", // dwOptions
      "u32", // samDesired
      "pointer", // lpSecurityAttributes
      "buffer", // phkResult
      "buffer", // lpdwDisposition
    ],
    result: "i32",
  },
  RegSetValueExW: {
    parameters: ["pointer", "buffer", "u32", "u32", "buffer", "u32"],
    result: "i32",
  },
  // (HKEY, LPCWSTR lpSubKey, LPCWSTR lpValue, DWORD dwFlags,
  //  LPDWORD pdwType, PVOID pvData, LPDWORD pcbData) -> LSTATUS
  RegGetValueW: {
    parameters: [
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  RegDeleteValueW: { parameters: ["pointer", "buffer"], result: "i32" },
  RegDeleteTreeW: { parameters: ["pointer", "buffer"], result: "i32" },
  RegCloseKey: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw advapi32 functions. */
export type Advapi32Symbols = Deno.DynamicLibrary<
  typeof ADVAPI32_SYMBOLS
>["symbols"];

/** Opens advapi32.dll (Windows only). */
export function openAdvapi32(): Advapi32Symbols {
  return Deno.dlopen("advapi32.dll", ADVAPI32_SYMBOLS).symbols;
}

// ---------------------------------------------------------------------------
// Constants (winbase.h, winnt.h, accctrl.h, winreg.h, winerror.h).

/** `LOGON32_LOGON_INTERACTIVE`: a primary token usable for CreateProcessAsUser. */
export const LOGON32_LOGON_INTERACTIVE = 2;
/** `LOGON32_LOGON_NETWORK`: an impersonation token (checks a password; cannot start processes). */
export const LOGON32_LOGON_NETWORK = 3;
/** `LOGON32_PROVIDER_DEFAULT`. */
export const LOGON32_PROVIDER_DEFAULT = 0;

/** `CREATE_NEW_PROCESS_GROUP`. */
export const CREATE_NEW_PROCESS_GROUP = 0x00000200;
/** `CREATE_UNICODE_ENVIRONMENT`: lpEnvironment is UTF-16 (CreateEnvironmentBlock's). */
export const CREATE_UNICODE_ENVIRONMENT = 0x00000400;
/** `CREATE_NO_WINDOW`: a console program gets no console window. */
export const CREATE_NO_WINDOW = 0x08000000;
/** The interactive desktop of the session the token belongs to. */
export const DEFAULT_DESKTOP = "winsta0\\default";
/** Longest `lpCommandLine`, in UTF-16 units, its NUL included. */
export const MAX_COMMAND_LINE = 32767;

/** `TOKEN_QUERY`. */
export const TOKEN_QUERY = 0x0008;
/** `TOKEN_ADJUST_PRIVILEGES`. */
export const TOKEN_ADJUST_PRIVILEGES = 0x0020;
/** `SE_PRIVILEGE_ENABLED`. */
export const SE_PRIVILEGE_ENABLED = 0x00000002;
/** `TokenPrivileges` (TOKEN_INFORMATION_CLASS): a TOKEN_PRIVILEGES of every privilege the token holds. */
export const TOKEN_PRIVILEGES_CLASS = 3;
/** `SE_TCB_NAME` (act as part of the OS: WTSQueryUserToken). */
export const SE_TCB_NAME = "SeTcbPrivilege";
/** `SE_ASSIGNPRIMARYTOKEN_NAME` (CreateProcessAsUser). */
export const SE_ASSIGNPRIMARYTOKEN_NAME = "SeAssignPrimaryTokenPrivilege";
/** `SE_INCREASE_QUOTA_NAME` (CreateProcessAsUser). */
export const SE_INCREASE_QUOTA_NAME = "SeIncreaseQuotaPrivilege";
/** `SE_BACKUP_NAME` (RegLoadKey / RegUnLoadKey). */
export const SE_BACKUP_NAME = "SeBackupPrivilege";
/** `SE_RESTORE_NAME` (RegLoadKey / RegUnLoadKey). */
export const SE_RESTORE_NAME = "SeRestorePrivilege";
/** `(HANDLE)-1`, what `GetCurrentProcess()` returns (a documented constant). */
export const CURRENT_PROCESS = 0xffffffffffffffffn;

/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;
/** `ERROR_FILE_NOT_FOUND`: also a missing registry key or value. */
export const ERROR_FILE_NOT_FOUND = 2;
/** `ERROR_NOT_ALL_ASSIGNED`: AdjustTokenPrivileges "succeeded" without the privilege. */
export const ERROR_NOT_ALL_ASSIGNED = 1300;

/** Well-known SID of BUILTIN\Remote Desktop Users (its name is localized). */
export const REMOTE_DESKTOP_USERS_SID = "S-1-5-32-555";
/** Well-known SID of LocalSystem (`NT AUTHORITY\SYSTEM`). */
export const LOCAL_SYSTEM_SID = "S-1-5-18";
/** Well-known SID of BUILTIN\Administrators. */
export const ADMINISTRATORS_SID = "S-1-5-32-544";
/** `SECURITY_MAX_SID_SIZE`. */
export const SECURITY_MAX_SID_SIZE = 68;

/** `SE_FILE_OBJECT` (SE_OBJECT_TYPE). */
export const SE_FILE_OBJECT = 1;
/** `DACL_SECURITY_INFORMATION`. */
export const DACL_SECURITY_INFORMATION = 0x00000004;
/** `PROTECTED_DACL_SECURITY_INFORMATION`: the DACL does not inherit. */
export const PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000;
/** `UNPROTECTED_DACL_SECURITY_INFORMATION`: the DACL inherits from the parent. */
export const UNPROTECTED_DACL_SECURITY_INFORMATION = 0x20000000;
/** `SE_DACL_PROTECTED`, a SECURITY_DESCRIPTOR control bit. */
export const SE_DACL_PROTECTED = 0x1000;
/** `SET_ACCESS` (ACCESS_MODE): an allowed ACE replacing the trustee's others. */
export const SET_ACCESS = 2;
/** `DENY_ACCESS` (ACCESS_MODE). */
export const DENY_ACCESS = 3;
/** `REVOKE_ACCESS` (ACCESS_MODE): documented to remove allowed ACEs only. */
export const REVOKE_ACCESS = 4;
/** `NO_INHERITANCE`. */
export const NO_INHERITANCE = 0;
/** `SUB_CONTAINERS_AND_OBJECTS_INHERIT` (= OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE). */
export const SUB_CONTAINERS_AND_OBJECTS_INHERIT = 3;
/** `TRUSTEE_IS_SID` (TRUSTEE_FORM). */
export const TRUSTEE_IS_SID = 0;
/** `TRUSTEE_IS_USER` (TRUSTEE_TYPE). */
export const TRUSTEE_IS_USER = 1;
/** `TRUSTEE_IS_GROUP` (TRUSTEE_TYPE). */
export const TRUSTEE_IS_GROUP = 2;
/** `TRUSTEE_IS_WELL_KNOWN_GROUP` (TRUSTEE_TYPE). */
export const TRUSTEE_IS_WELL_KNOWN_GROUP = 5;
/** `NO_MULTIPLE_TRUSTEE`. */
export const NO_MULTIPLE_TRUSTEE = 0;
/** `ACCESS_ALLOWED_ACE_TYPE`. */
export const ACCESS_ALLOWED_ACE_TYPE = 0;
/** `ACCESS_DENIED_ACE_TYPE`. */
export const ACCESS_DENIED_ACE_TYPE = 1;
/** `INHERITED_ACE`: an ACE flag; such ACEs come from the parent. */
export const INHERITED_ACE = 0x10;
/** The inheritance bits of an ACE's flags (OI, CI, NP, IO). */
export const ACE_INHERITANCE_FLAGS = 0x0f;

/** File access rights (winnt.h). */
export const FILE_RIGHTS = {
  FILE_READ_DATA: 0x0001,
  FILE_WRITE_DATA: 0x0002,
  FILE_APPEND_DATA: 0x0004,
  FILE_READ_EA: 0x0008,
  FILE_WRITE_EA: 0x0010,
  FILE_EXECUTE: 0x0020,
  FILE_DELETE_CHILD: 0x0040,
  FILE_READ_ATTRIBUTES: 0x0080,
  FILE_WRITE_ATTRIBUTES: 0x0100,
  DELETE: 0x00010000,
  READ_CONTROL: 0x00020000,
  WRITE_DAC: 0x00040000,
  WRITE_OWNER: 0x00080000,
  SYNCHRONIZE: 0x00100000,
} as const;
/** `FILE_GENERIC_READ`. */
export const FILE_GENERIC_READ = 0x120089;
/** `FILE_GENERIC_WRITE`. */
export const FILE_GENERIC_WRITE = 0x120116;
/** `FILE_GENERIC_EXECUTE`. */
export const FILE_GENERIC_EXECUTE = 0x1200a0;
/** `FILE_ALL_ACCESS`: STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF ("Full control"). */
export const FILE_ALL_ACCESS = 0x1f01ff;

/** A right `filesystemRestrictions` can deny. */
export type AccessRight = "read" | "write" | "execute";

/**
 * What each denied right removes. Not the FILE_GENERIC_* masks: those share
 * SYNCHRONIZE and READ_CONTROL, which nearly every open requests, so denying
 * "write" with them would deny reading too. FILE_READ_ATTRIBUTES stays
 * allowed (like stat on Linux; NTFS grants it through the parent's list
 * right anyway). "write" also covers deleting and rewriting the ACL, so the
 * user cannot remove the DENY ACE or delete and recreate the file.
 */
export const DENY_MASKS: Readonly<Record<AccessRight, number>> = {
  read: FILE_RIGHTS.FILE_READ_DATA | FILE_RIGHTS.FILE_READ_EA,
  write: FILE_RIGHTS.FILE_WRITE_DATA | FILE_RIGHTS.FILE_APPEND_DATA |
    FILE_RIGHTS.FILE_WRITE_EA | FILE_RIGHTS.FILE_WRITE_ATTRIBUTES |
    FILE_RIGHTS.FILE_DELETE_CHILD | FILE_RIGHTS.DELETE |
    FILE_RIGHTS.WRITE_DAC | FILE_RIGHTS.WRITE_OWNER,
  execute: FILE_RIGHTS.FILE_EXECUTE,
};

/** The access mask a DENY ACE gets for `deny`. */
export function denyMask(deny: readonly AccessRight[]): number {
  if (!deny.length) throw new TypeError("deny: at least one right is needed");
  let mask = 0;
  for (const right of deny) {
    const bits = DENY_MASKS[right];
    if (bits === undefined) {
      throw new TypeError(`deny: unknown right ${JSON.stringify(right)}`);
    }
    mask |= bits;
  }
  return mask >>> 0;
}

/** `HKEY_LOCAL_MACHINE`: `(HKEY)(ULONG_PTR)((LONG)0x80000002)`, sign-extended on 64-bit. */
export const HKEY_LOCAL_MACHINE = 0xffffffff80000002n;
/** `HKEY_USERS`: `(HKEY)(ULONG_PTR)((LONG)0x80000003)`, sign-extended on 64-bit. */
export const HKEY_USERS = 0xffffffff80000003n;
/** A predefined registry root (a bigint so importing needs no FFI permission). */
export type RegistryRoot = typeof HKEY_LOCAL_MACHINE | typeof HKEY_USERS;
/** `KEY_QUERY_VALUE`. */
export const KEY_QUERY_VALUE = 0x0001;
/** `KEY_SET_VALUE`. */
export const KEY_SET_VALUE = 0x0002;
/** `KEY_READ`. */
export const KEY_READ = 0x20019;
/** `KEY_WRITE`. */
export const KEY_WRITE = 0x20006;
/** `REG_OPTION_NON_VOLATILE`. */
export const REG_OPTION_NON_VOLATILE = 0;
/** `REG_CREATED_NEW_KEY` (a RegCreateKeyEx disposition). */
export const REG_CREATED_NEW_KEY = 1;
/** `REG_OPENED_EXISTING_KEY`. */
export const REG_OPENED_EXISTING_KEY = 2;
/** `REG_SZ`. */
export const REG_SZ = 1;
/** `REG_EXPAND_SZ`. */
export const REG_EXPAND_SZ = 2;
/** `REG_DWORD`. */
export const REG_DWORD = 4;
/** `RRF_RT_REG_SZ`: RegGetValueW accepts REG_SZ (and expands REG_EXPAND_SZ into it unless RRF_NOEXPAND). */
export const RRF_RT_REG_SZ = 0x00000002;
/** `RRF_RT_REG_EXPAND_SZ`: needs RRF_NOEXPAND, or RegGetValueW fails with ERROR_INVALID_PARAMETER (winreg.h). */
export const RRF_RT_REG_EXPAND_SZ = 0x00000004;
/** `RRF_NOEXPAND`: REG_EXPAND_SZ data comes back as stored. */
export const RRF_NOEXPAND = 0x10000000;
/** `ERROR_MORE_DATA`: the size needed is in `*pcbData`. */
export const ERROR_MORE_DATA = 234;
/** `ERROR_UNSUPPORTED_TYPE`: the value is not of a type RegGetValueW's flags allow. */
export const ERROR_UNSUPPORTED_TYPE = 1630;
/** Longest registry key name component (Registry Element Size Limits). */
export const MAX_KEY_NAME = 255;
/** Longest registry value name. */
export const MAX_VALUE_NAME = 16383;

/** `SID_NAME_USE` values by name. */
export const SID_NAME_USE = {
  user: 1,
  group: 2,
  domain: 3,
  alias: 4,
  wellKnownGroup: 5,
  deletedAccount: 6,
  invalid: 7,
  unknown: 8,
  computer: 9,
  label: 10,
  logonSession: 11,
} as const;
/** What kind of account a SID names. */
export type SidUse = keyof typeof SID_NAME_USE;

// ---------------------------------------------------------------------------
// Struct layouts (x64), checked against the SDK in the tests.

/** `LUID`. */
export const LUID = defineStruct({ LowPart: "u32", HighPart: "i32" });
/** `LUID_AND_ATTRIBUTES`: 12 bytes, 4-aligned. */
export const LUID_AND_ATTRIBUTES = defineStruct({
  Luid: LUID,
  Attributes: "u32",
});
/** `TOKEN_PRIVILEGES` with one entry: 16 bytes. */
export const TOKEN_PRIVILEGES = defineStruct({
  PrivilegeCount: "u32",
  Privileges: { array: LUID_AND_ATTRIBUTES, length: 1 },
});
/** `STARTUPINFOW`: 104 bytes. */
export const STARTUPINFOW = defineStruct({
  cb: "u32",
  lpReserved: "ptr",
  lpDesktop: "ptr",
  lpTitle: "ptr",
  dwX: "u32",
  dwY: "u32",
  dwXSize: "u32",
  dwYSize: "u32",
  dwXCountChars: "u32",
  dwYCountChars: "u32",
  dwFillAttribute: "u32",
  dwFlags: "u32",
  wShowWindow: "u16",
  cbReserved2: "u16",
  lpReserved2: "ptr",
  hStdInput: "ptr",
  hStdOutput: "ptr",
  hStdError: "ptr",
});
/** `PROCESS_INFORMATION`: 24 bytes. */
export const PROCESS_INFORMATION = defineStruct({
  hProcess: "ptr",
  hThread: "ptr",
  dwProcessId: "u32",
  dwThreadId: "u32",
});
/** `TRUSTEE_W`: 32 bytes (ptstrName holds a PSID for TRUSTEE_IS_SID). */
export const TRUSTEE_W = defineStruct({
  pMultipleTrustee: "ptr",
  MultipleTrusteeOperation: "u32",
  TrusteeForm: "u32",
  TrusteeType: "u32",
  ptstrName: "ptr",
});
/** `EXPLICIT_ACCESS_W`: 48 bytes. */
export const EXPLICIT_ACCESS_W = defineStruct({
  grfAccessPermissions: "u32",
  grfAccessMode: "u32",
  grfInheritance: "u32",
  Trustee: TRUSTEE_W,
});
/** `ACL` header: 8 bytes, ACEs follow. */
export const ACL = defineStruct({
  AclRevision: "u8",
  Sbz1: "u8",
  AclSize: "u16",
  AceCount: "u16",
  Sbz2: "u16",
});
/** `ACE_HEADER`: 4 bytes. */
export const ACE_HEADER = defineStruct({
  AceType: "u8",
  AceFlags: "u8",
  AceSize: "u16",
});
/** `ACCESS_ALLOWED_ACE` / `ACCESS_DENIED_ACE`: the SID starts at SidStart (8). */
export const ACCESS_ACE = defineStruct({
  Header: ACE_HEADER,
  Mask: "u32",
  SidStart: "u32",
});

// ---------------------------------------------------------------------------
// Command lines.

/**
 * Quotes one argument so `CommandLineToArgvW` and the MSVC runtime read it
 * back unchanged: untouched unless empty or containing blanks or quotes;
 * otherwise in quotes, with backslashes doubled where they precede a quote
 * (escaped or closing) and quotes escaped.
 */
export function quoteArgument(arg: string): string {
  if (arg.includes("\0")) {
    throw new TypeError(
      `an argument cannot contain NUL: ${JSON.stringify(arg)}`,
    );
  }
  if (arg !== "" && !/[ \t\n\v"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === "\\") {
      backslashes++;
      continue;
    }
    out += ch === '"'
      ? "\\".repeat(backslashes * 2 + 1) + '"'
      : "\\".repeat(backslashes) + ch;
    backslashes = 0;
  }
  return out + "\\".repeat(backslashes * 2) + '"';
}

/**
 * A command line for `argv`. The program name (argv[0]) follows its own
 * rule: it is read up to the closing quote with no escapes, so it is quoted
 * plainly when it has blanks and may not contain a quote (no Windows path
 * can). The other arguments go through {@linkcode quoteArgument}.
 */
export function quoteCommandLine(argv: readonly string[]): string {
  if (!argv.length) throw new TypeError("argv: the program is missing");
  const [program, ...args] = argv;
  if (program === "" || /["\0]/.test(program)) {
    throw new TypeError(
      `argv[0] must be a non-empty program path without quotes: ${
        JSON.stringify(program)
      }`,
    );
  }
  const line = [
    /[ \t]/.test(program) ? `"${program}"` : program,
    ...args.map(quoteArgument),
  ].join(" ");
  if (line.length >= MAX_COMMAND_LINE) {
    throw new RangeError(
      `command line is ${line.length} characters; Windows allows ${
        MAX_COMMAND_LINE - 1
      }`,
    );
  }
  return line;
}

// ---------------------------------------------------------------------------
// SIDs and ACLs in memory.

/** One ACE of an ACL. */
export interface AccessEntry {
  /** `AceType`: 0 allowed, 1 denied, others (object, audit…) kept opaque. */
  type: number;
  /** `AceFlags`: inheritance bits and INHERITED_ACE. */
  flags: number;
  /** The access mask (allowed/denied ACEs only; 0 otherwise). */
  mask: number;
  /** The trustee's SID (allowed/denied ACEs only). */
  sid?: Uint8Array;
  /** The ACE's bytes as they are. */
  raw: Uint8Array;
}

/** Splits an ACL (header and ACEs) into its entries, checking every bound. */
export function parseAcl(
  acl: Uint8Array,
): { revision: number; entries: AccessEntry[] } {
  const view = viewOf(acl);
  if (acl.byteLength < ACL.size) {
    throw new RangeError("ACL shorter than its header");
  }
  const size = readField(view, ACL, { field: "AclSize" }) as number;
  const count = readField(view, ACL, { field: "AceCount" }) as number;
  if (size < ACL.size || size > acl.byteLength) {
    throw new RangeError(`ACL size ${size} out of bounds`);
  }
  const entries: AccessEntry[] = [];
  let at = ACL.size;
  for (let i = 0; i < count; i++) {
    if (at + ACE_HEADER.size > size) {
      throw new RangeError(`ACE ${i} out of bounds`);
    }
    const type = readField(view, ACE_HEADER, {
      field: "AceType",
      base: at,
    }) as number;
    const flags = readField(view, ACE_HEADER, {
      field: "AceFlags",
      base: at,
    }) as number;
    const aceSize = readField(view, ACE_HEADER, {
      field: "AceSize",
      base: at,
    }) as number;
    if (aceSize < ACE_HEADER.size || at + aceSize > size) {
      throw new RangeError(`ACE ${i} has a bad size ${aceSize}`);
    }
    const raw = acl.slice(at, at + aceSize);
    const entry: AccessEntry = { type, flags, mask: 0, raw };
    if (
      (type === ACCESS_ALLOWED_ACE_TYPE || type === ACCESS_DENIED_ACE_TYPE) &&
      aceSize >= ACCESS_ACE.offsets.SidStart + 8
    ) {
      entry.mask = readField(view, ACCESS_ACE, {
        field: "Mask",
        base: at,
      }) as number;
      const sidAt = ACCESS_ACE.offsets.SidStart;
      const sidLength = 8 + 4 * raw[sidAt + 1];
      if (sidAt + sidLength <= aceSize) {
        entry.sid = raw.slice(sidAt, sidAt + sidLength);
      }
    }
    entries.push(entry);
    at += aceSize;
  }
  return {
    revision: readField(view, ACL, { field: "AclRevision" }) as number,
    entries,
  };
}

/** An ACL of `entries` (their raw bytes, in order), sized exactly. */
export function encodeAcl(
  revision: number,
  entries: readonly AccessEntry[],
): Uint8Array<ArrayBuffer> {
  const size = ACL.size + entries.reduce((n, e) => n + e.raw.byteLength, 0);
  if (size > 0xffff) throw new RangeError(`ACL of ${size} bytes is too large`);
  const acl = encodeStruct(ACL, {
    AclRevision: revision,
    AclSize: size,
    AceCount: entries.length,
  });
  const out = new Uint8Array(size);
  out.set(acl);
  let at = ACL.size;
  for (const e of entries) {
    out.set(e.raw, at);
    at += e.raw.byteLength;
  }
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.byteLength === b.byteLength &&
    a.every((x, i) => x === b[i]);
}

/** Whether `e` is an explicit (not inherited) allowed/denied ACE for `sid`. */
function isExplicitFor(e: AccessEntry, sid: Uint8Array, type: number): boolean {
  return e.type === type && !(e.flags & INHERITED_ACE) && sameBytes(e.sid, sid);
}

/** A copy of the ACL at `pointer` (its AclSize bytes). */
function readAcl(pointer: Deno.PointerValue): Uint8Array<ArrayBuffer> {
  const header = copyFrom(pointer, ACL.size);
  return copyFrom(
    pointer,
    readField(viewOf(header), ACL, { field: "AclSize" }) as number,
  );
}

/** One privilege of a token: its LUID (8 bytes) and `SE_PRIVILEGE_*` attributes. */
export interface TokenPrivilege {
  /** The LUID's bytes, as LookupPrivilegeValueW writes them. */
  luid: Uint8Array;
  /** `SE_PRIVILEGE_ENABLED` and friends. */
  attributes: number;
}

/** The entries of a `TOKEN_PRIVILEGES` of any count, checking that they fit. */
export function parseTokenPrivileges(bytes: Uint8Array): TokenPrivilege[] {
  if (bytes.byteLength < TOKEN_PRIVILEGES.offsets.Privileges) {
    throw new RangeError("TOKEN_PRIVILEGES shorter than its count");
  }
  const view = viewOf(bytes);
  const count = readField(view, TOKEN_PRIVILEGES, {
    field: "PrivilegeCount",
  }) as number;
  const first = TOKEN_PRIVILEGES.offsets.Privileges;
  const stride = LUID_AND_ATTRIBUTES.size;
  if (first + count * stride > bytes.byteLength) {
    throw new RangeError(
      `TOKEN_PRIVILEGES of ${count} entries does not fit in ${bytes.byteLength} bytes`,
    );
  }
  return Array.from({ length: count }, (_, i) => {
    const base = first + i * stride;
    const luidAt = base + LUID_AND_ATTRIBUTES.offsets.Luid;
    return {
      luid: bytes.slice(luidAt, luidAt + LUID.size),
      attributes: readField(view, LUID_AND_ATTRIBUTES, {
        field: "Attributes",
        base,
      }) as number,
    };
  });
}

/** An `EXPLICIT_ACCESS_W` entry whose trustee is a SID. */
interface SidAccess {
  /** grfAccessPermissions. */
  mask: number;
  /** grfAccessMode (`SET_ACCESS`, `DENY_ACCESS`…). */
  mode: number;
  /** grfInheritance. */
  inheritance: number;
  /** Trustee.TrusteeType (informational for a SID). */
  trusteeType: number;
  /** The trustee's binary SID: keep it alive while the array is used. */
  sid: Uint8Array;
}

/** `EXPLICIT_ACCESS_W` entries back to back, for SetEntriesInAclW. */
function encodeExplicitAccess(
  entries: readonly SidAccess[],
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(EXPLICIT_ACCESS_W.size * entries.length);
  const view = viewOf(out);
  entries.forEach((entry, i) => {
    const base = i * EXPLICIT_ACCESS_W.size;
    const at = { base };
    writeField(view, EXPLICIT_ACCESS_W, {
      field: "grfAccessPermissions",
      value: entry.mask >>> 0,
      ...at,
    });
    writeField(view, EXPLICIT_ACCESS_W, {
      field: "grfAccessMode",
      value: entry.mode,
      ...at,
    });
    writeField(view, EXPLICIT_ACCESS_W, {
      field: "grfInheritance",
      value: entry.inheritance,
      ...at,
    });
    const trustee = { base: base + EXPLICIT_ACCESS_W.offsets.Trustee };
    writeField(view, TRUSTEE_W, {
      field: "MultipleTrusteeOperation",
      value: NO_MULTIPLE_TRUSTEE,
      ...trustee,
    });
    writeField(view, TRUSTEE_W, {
      field: "TrusteeForm",
      value: TRUSTEE_IS_SID,
      ...trustee,
    });
    writeField(view, TRUSTEE_W, {
      field: "TrusteeType",
      value: entry.trusteeType,
      ...trustee,
    });
    writeField(view, TRUSTEE_W, {
      field: "ptstrName",
      value: addressOf(entry.sid),
      ...trustee,
    });
  });
  return out;
}

// ---------------------------------------------------------------------------
// Validation.

const SAM_ILLEGAL = /["/\\[\]:;|=,+*?<>\0]/;

/** Throws unless `path` is a usable Windows path (for messages: `what`). */
function checkPath(path: string, what: string): void {
  if (!path || path.includes("\0") || path.length >= MAX_COMMAND_LINE) {
    throw new TypeError(`${what}: not a usable path: ${JSON.stringify(path)}`);
  }
}

/** Throws unless `path` is a registry path of non-empty components of ≤255 characters. */
function checkKeyPath(path: string): string[] {
  const parts = path.split("\\");
  if (
    !path ||
    parts.some((p) => !p || p.length > MAX_KEY_NAME || p.includes("\0"))
  ) {
    throw new TypeError(`not a registry key path: ${JSON.stringify(path)}`);
  }
  return parts;
}

function checkValueName(name: string): void {
  if (name.length > MAX_VALUE_NAME || name.includes("\0")) {
    throw new TypeError(`not a registry value name: ${JSON.stringify(name)}`);
  }
}

function checkRoot(root: RegistryRoot): void {
  if (root !== HKEY_USERS && root !== HKEY_LOCAL_MACHINE) {
    throw new TypeError(
      `registry root must be HKEY_USERS or HKEY_LOCAL_MACHINE, not 0x${
        BigInt(root).toString(16)
      }`,
    );
  }
}

/** Adds what the call was about to a thrown error's message. */
function about<E extends Error>(error: E, subject: string): E {
  error.message += ` (${subject})`;
  return error;
}

// ---------------------------------------------------------------------------
// The wrapper.

/** How {@linkcode Advapi32.logonUser} logs on. */
export interface LogonOptions {
  /** `interactive` (default: a primary token for CreateProcessAsUser) or `network` (a password check). */
  type?: "interactive" | "network";
}

/** What {@linkcode Advapi32.createProcessAsUser} starts. */
export interface CreateProcessOptions {
  /** Program (absolute path, or a name searched on PATH) and arguments. */
  argv: readonly string[];
  /** Working directory; the caller's when omitted. */
  cwd?: string;
  /**
   * UTF-16 environment block: userenv's CreateEnvironmentBlock pointer, or a
   * `wideList` of `NAME=value` strings. The caller's (the service's!) when
   * omitted.
   */
  environment?: Deno.PointerValue | Uint8Array;
  /** Window station and desktop; {@linkcode DEFAULT_DESKTOP} by default. */
  desktop?: string;
  /** Start in a new process group (Ctrl+C does not reach it); default true. */
  newProcessGroup?: boolean;
  /** A console program gets no console window; default true. */
  noWindow?: boolean;
}

/** A process started by {@linkcode Advapi32.createProcessAsUser}. */
export interface StartedProcess {
  /** Its id. */
  pid: number;
  /** Its handle (close with Kernel32.closeHandle); the thread handle is closed already. */
  processHandle: Deno.PointerValue;
}

/** An account a SID names. */
export interface AccountName {
  /** Account name (localized for built-in groups). */
  name: string;
  /** Domain: the computer name, `BUILTIN`, `NT AUTHORITY`… */
  domain: string;
  /** What kind of account it is. */
  use: SidUse;
}

/** An account found by name. */
export interface Account {
  /** Its binary SID. */
  sid: Uint8Array<ArrayBuffer>;
  /** The SID as `S-1-5-…`. */
  sidString: string;
  /** The domain the name was found in. */
  domain: string;
  /** What kind of account it is. */
  use: SidUse;
}

/** A filesystem restriction for one trustee. */
export interface DenyOptions {
  /** Rights to deny (see {@linkcode DENY_MASKS}). */
  deny: readonly AccessRight[];
  /** Inherited by everything below a directory (and propagated to what exists now). */
  recursive?: boolean;
}

/** A registry key as a predefined root and a path below it. */
export interface HiveKey {
  /** The root the hive was loaded under. */
  root: RegistryRoot;
  /** The hive's key name under the root. */
  path: string;
}

const USE_NAMES = Object.fromEntries(
  Object.entries(SID_NAME_USE).map(([name, value]) => [value, name]),
) as Record<number, SidUse>;

/**
 * Typed advapi32 calls. Synchronous failures carry their `GetLastError`
 * code, read at once through the `Kernel32` wrapper; `nonblocking` ones
 * return their status or, for `LogonUserW`, no code.
 */
export class Advapi32 {
  readonly #a: Advapi32Symbols;
  readonly #k: Kernel32;

  /** Wraps raw advapi32 functions; `kernel32` reads last errors and frees. */
  constructor(symbols: Advapi32Symbols, kernel32: Kernel32) {
    this.#a = symbols;
    this.#k = kernel32;
  }

  // --- Logon and processes -------------------------------------------------

  /**
   * Logs `name` on with `password` and returns its token (close it with
   * Kernel32.closeHandle). `name` is `user` (a local account), `DOMAIN\user`
   * or `user@domain`. Runs off the event loop, so a failure has no code.
   */
  async logonUser(
    name: string,
    password: string,
    options: LogonOptions = {},
  ): Promise<Deno.PointerValue> {
    let user = name;
    let domain: string | null = ".";
    if (name.includes("@")) {
      domain = null; // a UPN carries its domain
    } else if (name.includes("\\")) {
      [domain, user] = name.split("\\", 2) as [string, string];
      if (!domain || name.split("\\").length > 2) {
        throw new TypeError(`not an account name: ${JSON.stringify(name)}`);
      }
    }
    if (
      domain !== null && (!user || user.length > 20 || SAM_ILLEGAL.test(user))
    ) {
      throw new TypeError(
        `not a Windows account name (1–20 characters, none of "/\\[]:;|=,+*?<>): ${
          JSON.stringify(user)
        }`,
      );
    }
    const type = options.type ?? "interactive";
    const out = new OutParam();
    const secret = wide(password);
    try {
      const ok = await this.#a.LogonUserW(
        wide(user),
        domain === null ? null : wide(domain),
        secret,
        type === "network" ? LOGON32_LOGON_NETWORK : LOGON32_LOGON_INTERACTIVE,
        LOGON32_PROVIDER_DEFAULT,
        out.bytes,
      );
      if (!ok) throw about(new Win32Error("LogonUserW", undefined), name);
    } finally {
      secret.fill(0); // no password copy left in our heap
    }
    return out.pointer();
  }

  /**
   * Starts `argv` as the token's user, on its session's desktop. The
   * command line is built with {@linkcode quoteCommandLine} into a writable
   * buffer (CreateProcessW may write to it); an absolute argv[0] is also
   * passed as lpApplicationName so no search or space ambiguity applies.
   * The caller needs SE_INCREASE_QUOTA_NAME and usually
   * SE_ASSIGNPRIMARYTOKEN_NAME enabled ({@linkcode Advapi32.enablePrivilege}).
   */
  createProcessAsUser(
    token: Deno.PointerValue,
    options: CreateProcessOptions,
  ): StartedProcess {
    if (token === null) throw new TypeError("createProcessAsUser: no token");
    const commandLine = wide(quoteCommandLine(options.argv));
    const program = options.argv[0];
    const application = /^([A-Za-z]:\\|\\\\)/.test(program)
      ? wide(program)
      : null;
    if (options.cwd !== undefined) checkPath(options.cwd, "cwd");
    const cwd = options.cwd === undefined ? null : wide(options.cwd);
    const desktop = wide(options.desktop ?? DEFAULT_DESKTOP);

    let environment: Deno.PointerValue = null;
    const env = options.environment;
    if (env instanceof Uint8Array) {
      const n = env.byteLength;
      if (
        n < 4 || n % 2 || env[n - 1] || env[n - 2] || env[n - 3] || env[n - 4]
      ) {
        throw new TypeError(
          "environment: not a UTF-16 block ending in two NULs (use wideList)",
        );
      }
      environment = Deno.UnsafePointer.of(env);
    } else if (env !== undefined) {
      environment = env;
    }
    let flags = 0;
    if (environment !== null) flags |= CREATE_UNICODE_ENVIRONMENT;
    if (options.newProcessGroup ?? true) flags |= CREATE_NEW_PROCESS_GROUP;
    if (options.noWindow ?? true) flags |= CREATE_NO_WINDOW;

    const startup = encodeStruct(STARTUPINFOW, {
      cb: STARTUPINFOW.size,
      lpDesktop: addressOf(desktop),
    });
    const info = encodeStruct(PROCESS_INFORMATION);
    const ok = this.#a.CreateProcessAsUserW(
      token,
      application,
      commandLine,
      null,
      null,
      0, // no handle inheritance into another user's session
      flags,
      environment,
      cwd,
      startup,
      info,
    );
    if (!ok) throw about(this.#k.fail("CreateProcessAsUserW"), program);
    const view = viewOf(info);
    const thread = pointerAt(
      readField(view, PROCESS_INFORMATION, { field: "hThread" }),
    );
    try {
      this.#k.closeHandle(thread);
    } catch {
      // The process runs either way; its handle matters more than this one.
    }
    keepAlive(env, desktop, application, cwd, commandLine);
    return {
      pid: readField(view, PROCESS_INFORMATION, {
        field: "dwProcessId",
      }) as number,
      processHandle: pointerAt(
        readField(view, PROCESS_INFORMATION, { field: "hProcess" }),
      ),
    };
  }

  // --- Privileges -----------------------------------------------------------

  /**
   * Enables privilege `name` (`SeTcbPrivilege`…) in this process's token,
   * for every thread — the blocking-pool threads `nonblocking` calls run on
   * included. Fails with ERROR_NOT_ALL_ASSIGNED when the token does not
   * hold it. AdjustTokenPrivileges reports that only through the last error
   * after returning TRUE, and that value may be overwritten before it can
   * be read, so the token is read back instead (GetTokenInformation,
   * TokenPrivileges): the privilege must be in it, enabled.
   */
  enablePrivilege(name: string): void {
    if (!/^Se[A-Za-z]+Privilege$/.test(name)) {
      throw new TypeError(`not a privilege name: ${JSON.stringify(name)}`);
    }
    const luid = new Uint8Array(LUID.size);
    if (!this.#a.LookupPrivilegeValueW(null, wide(name), luid)) {
      throw about(this.#k.fail("LookupPrivilegeValueW"), name);
    }
    const out = new OutParam();
    if (
      !this.#a.OpenProcessToken(
        pointerAt(CURRENT_PROCESS),
        TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
        out.bytes,
      )
    ) {
      throw about(this.#k.fail("OpenProcessToken"), name);
    }
    const token = out.pointer();
    try {
      const privileges = encodeStruct(TOKEN_PRIVILEGES, { PrivilegeCount: 1 });
      const entry = TOKEN_PRIVILEGES.offsets.Privileges;
      privileges.set(luid, entry + LUID_AND_ATTRIBUTES.offsets.Luid);
      writeField(viewOf(privileges), LUID_AND_ATTRIBUTES, {
        field: "Attributes",
        value: SE_PRIVILEGE_ENABLED,
        base: entry,
      });
      if (!this.#a.AdjustTokenPrivileges(token, 0, privileges, 0, null, null)) {
        throw about(this.#k.fail("AdjustTokenPrivileges"), name);
      }
      const held = this.#tokenPrivileges(token).find((p) =>
        sameBytes(p.luid, luid)
      );
      if (!held || !(held.attributes & SE_PRIVILEGE_ENABLED)) {
        throw about(
          new Win32Error("AdjustTokenPrivileges", ERROR_NOT_ALL_ASSIGNED),
          name,
        );
      }
    } finally {
      this.#k.closeHandle(token);
    }
  }

  /**
   * The privileges in `token` (opened with TOKEN_QUERY): each LUID's 8
   * bytes and its attributes. The buffer is sized from the length the call
   * returns.
   */
  #tokenPrivileges(
    token: Deno.PointerValue,
  ): Array<{ luid: Uint8Array; attributes: number }> {
    let bytes = 0;
    for (let attempt = 1;; attempt++) {
      const info = bytes ? new Uint8Array(bytes) : null;
      const returned = new Uint32Array(1);
      if (
        this.#a.GetTokenInformation(
          token,
          TOKEN_PRIVILEGES_CLASS,
          info,
          bytes,
          returned,
        )
      ) {
        if (info === null) {
          throw new Error("GetTokenInformation succeeded without a buffer");
        }
        return parseTokenPrivileges(
          info.subarray(0, Math.min(returned[0], bytes)),
        );
      }
      // Read for the message; whether to retry is what the length says.
      const error = this.#k.fail("GetTokenInformation");
      if (returned[0] <= bytes || attempt >= 3) throw error;
      bytes = returned[0];
    }
  }

  // --- SIDs and accounts ----------------------------------------------------

  /** The binary SID for `S-1-5-…` (or an SDDL alias such as `BA`), as a copy. */
  sidFromString(s: string): Uint8Array<ArrayBuffer> {
    if (!s) throw new TypeError("sidFromString: empty SID string");
    const out = new OutParam();
    if (!this.#a.ConvertStringSidToSidW(wide(s), out.bytes)) {
      throw about(this.#k.fail("ConvertStringSidToSidW"), s);
    }
    const sid = out.pointer();
    try {
      return copyFrom(sid, this.#a.GetLengthSid(sid));
    } finally {
      this.#k.localFree(sid);
    }
  }

  /** `S-1-5-…` for a binary SID. */
  sidToString(sid: Uint8Array): string {
    checkSid(sid);
    const out = new OutParam();
    if (!this.#a.ConvertSidToStringSidW(sid, out.bytes)) {
      throw this.#k.fail("ConvertSidToStringSidW");
    }
    const text = out.pointer();
    try {
      return readWide(text);
    } finally {
      this.#k.localFree(text);
    }
  }

  /**
   * The account a SID names — e.g. the localized name of BUILTIN\Remote
   * Desktop Users from {@linkcode REMOTE_DESKTOP_USERS_SID}. Fails with
   * ERROR_NONE_MAPPED for an unknown SID.
   */
  lookupSid(sid: Uint8Array): AccountName {
    checkSid(sid);
    let nameUnits = 64;
    let domainUnits = 64;
    for (let attempt = 0;; attempt++) {
      const name = new Uint8Array(nameUnits * 2);
      const domain = new Uint8Array(domainUnits * 2);
      const cchName = Uint32Array.of(nameUnits);
      const cchDomain = Uint32Array.of(domainUnits);
      const use = new Uint32Array(1);
      if (
        this.#a.LookupAccountSidW(
          null,
          sid,
          name,
          cchName,
          domain,
          cchDomain,
          use,
        )
      ) {
        return {
          name: readWideIn(name, cchName[0]),
          domain: readWideIn(domain, cchDomain[0]),
          use: USE_NAMES[use[0]] ?? "unknown",
        };
      }
      // The code is for the message only: by the time it is read the
      // runtime may have overwritten it. A buffer too small shows in the
      // counts: they come back as the sizes needed, NULs included.
      const error = this.#k.fail("LookupAccountSidW");
      const grew = cchName[0] > nameUnits || cchDomain[0] > domainUnits;
      if (!grew || attempt >= 2) throw error;
      nameUnits = Math.max(nameUnits, cchName[0]);
      domainUnits = Math.max(domainUnits, cchDomain[0]);
    }
  }

  /**
   * The account called `name` (`user`, `COMPUTER\user`, `BUILTIN\…`). Local
   * pool accounts are best named `COMPUTER\user`: an unqualified name that is
   * not found locally is looked up in the domain (a network round trip).
   */
  lookupAccount(name: string): Account {
    if (!name || name.includes("\0")) {
      throw new TypeError(`not an account name: ${JSON.stringify(name)}`);
    }
    let sidBytes = SECURITY_MAX_SID_SIZE;
    let domainUnits = 64;
    for (let attempt = 0;; attempt++) {
      const sid = new Uint8Array(sidBytes);
      const domain = new Uint8Array(domainUnits * 2);
      const cbSid = Uint32Array.of(sidBytes);
      const cchDomain = Uint32Array.of(domainUnits);
      const use = new Uint32Array(1);
      if (
        this.#a.LookupAccountNameW(
          null,
          wide(name),
          sid,
          cbSid,
          domain,
          cchDomain,
          use,
        )
      ) {
        const bytes = sid.slice(0, 8 + 4 * sid[1]);
        return {
          sid: bytes,
          sidString: this.sidToString(bytes),
          domain: readWideIn(domain, cchDomain[0]),
          use: USE_NAMES[use[0]] ?? "unknown",
        };
      }
      // As in lookupSid: the sizes returned decide, the code is reported.
      const error = about(this.#k.fail("LookupAccountNameW"), name);
      const grew = cbSid[0] > sidBytes || cchDomain[0] > domainUnits;
      if (!grew || attempt >= 2) throw error;
      sidBytes = Math.max(sidBytes, cbSid[0]);
      domainUnits = Math.max(domainUnits, cchDomain[0]);
    }
  }

  // --- NTFS DENY ACEs -------------------------------------------------------

  /**
   * The DACL of a file or directory, or null for a NULL DACL (everyone has
   * full access).
   */
  accessEntries(path: string): AccessEntry[] | null {
    const { dacl } = this.#readDacl(path);
    return dacl === null ? null : parseAcl(dacl).entries;
  }

  /**
   * Denies `sid` the rights in `deny` on `path` with one explicit DENY ACE,
   * inherited by everything below it when `recursive`. Idempotent: the
   * trustee's earlier explicit DENY ACEs on `path` are replaced, and nothing
   * is written when the one wanted is already there. Returns whether the
   * DACL changed. Refuses a NULL DACL (a lone DENY ACE would deny everyone
   * everything else).
   */
  async denyAccess(
    path: string,
    sid: Uint8Array,
    options: DenyOptions,
  ): Promise<boolean> {
    checkSid(sid);
    const mask = denyMask(options.deny);
    const inheritance = options.recursive
      ? SUB_CONTAINERS_AND_OBJECTS_INHERIT
      : NO_INHERITANCE;
    const { dacl, protectedDacl } = this.#readDacl(path);
    if (dacl === null) {
      throw new Error(
        `${path} has a NULL DACL; refusing to add a DENY ACE (it would deny everyone)`,
      );
    }
    const acl = parseAcl(dacl);
    const ours = acl.entries.filter((e) =>
      isExplicitFor(e, sid, ACCESS_DENIED_ACE_TYPE)
    );
    if (
      ours.length === 1 && ours[0].mask === mask &&
      (ours[0].flags & ACE_INHERITANCE_FLAGS) === inheritance
    ) {
      return false;
    }
    // REVOKE_ACCESS is documented to drop allowed ACEs only: filter here.
    const rest = encodeAcl(
      acl.revision,
      acl.entries.filter((e) => !ours.includes(e)),
    );
    const trusteeSid = Uint8Array.from(sid);
    const access = encodeExplicitAccess([{
      mask,
      mode: DENY_ACCESS,
      inheritance,
      trusteeType: TRUSTEE_IS_USER,
      sid: trusteeSid,
    }]);
    const newAcl = new OutParam();
    const status = this.#a.SetEntriesInAclW(
      1,
      access,
      Deno.UnsafePointer.of(rest),
      newAcl.bytes,
    );
    keepAlive(trusteeSid, rest);
    if (status !== 0) {
      throw about(new Win32Error("SetEntriesInAclW", status), path);
    }
    try {
      await this.#writeDacl(path, newAcl.pointer(), protectedDacl);
    } finally {
      this.#k.localFree(newAcl.pointer());
    }
    return true;
  }

  /**
   * Removes the explicit DENY ACEs for `sid` from `path` (also its allowed
   * ones with `allowed: true`); inherited copies below a directory go with
   * them. Returns whether anything was removed. Call it before deleting an
   * account, or its ACEs stay behind as an unknown SID.
   */
  async removeAccessEntries(
    path: string,
    sid: Uint8Array,
    options: { allowed?: boolean } = {},
  ): Promise<boolean> {
    checkSid(sid);
    const { dacl, protectedDacl } = this.#readDacl(path);
    if (dacl === null) return false;
    const acl = parseAcl(dacl);
    const kept = acl.entries.filter((e) =>
      !isExplicitFor(e, sid, ACCESS_DENIED_ACE_TYPE) &&
      !(options.allowed && isExplicitFor(e, sid, ACCESS_ALLOWED_ACE_TYPE))
    );
    if (kept.length === acl.entries.length) return false;
    const next = encodeAcl(acl.revision, kept);
    await this.#writeDacl(path, Deno.UnsafePointer.of(next), protectedDacl);
    keepAlive(next);
    return true;
  }

  /**
   * Makes `path` (a folder) reachable by LocalSystem and Administrators
   * only: its DACL becomes a PROTECTED one (nothing inherited from the
   * parent, e.g. ProgramData's "Users may create and read") of two ACEs
   * granting full control (`FILE_ALL_ACCESS`) to SYSTEM and BUILTIN\
   * Administrators, inherited by everything below
   * (`SUB_CONTAINERS_AND_OBJECTS_INHERIT`) and propagated to what exists
   * there now. Other explicit ACEs on `path` are dropped; explicit ACEs of
   * its children stay. The owner is left as it is.
   *
   * SetEntriesInAclW(SET_ACCESS, NULL old ACL), then SetNamedSecurityInfoW
   * (`DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION`,
   * off the event loop), LocalFree.
   */
  async protectFolder(path: string): Promise<void> {
    checkPath(path, "folder");
    const system = this.sidFromString(LOCAL_SYSTEM_SID);
    const admins = this.sidFromString(ADMINISTRATORS_SID);
    const grant = {
      mask: FILE_ALL_ACCESS,
      mode: SET_ACCESS,
      inheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    };
    const access = encodeExplicitAccess([
      { ...grant, trusteeType: TRUSTEE_IS_WELL_KNOWN_GROUP, sid: system },
      { ...grant, trusteeType: TRUSTEE_IS_GROUP, sid: admins },
    ]);
    const newAcl = new OutParam();
    const status = this.#a.SetEntriesInAclW(2, access, null, newAcl.bytes);
    keepAlive(system, admins, access);
    if (status !== 0) {
      throw about(new Win32Error("SetEntriesInAclW", status), path);
    }
    try {
      await this.#writeDacl(path, newAcl.pointer(), true);
    } finally {
      this.#k.localFree(newAcl.pointer());
    }
  }

  /** A copy of `path`'s DACL (null for a NULL DACL) and whether it is protected. */
  #readDacl(
    path: string,
  ): { dacl: Uint8Array<ArrayBuffer> | null; protectedDacl: boolean } {
    checkPath(path, "path");
    const dacl = new OutParam();
    const descriptor = new OutParam();
    const status = this.#a.GetNamedSecurityInfoW(
      wide(path),
      SE_FILE_OBJECT,
      DACL_SECURITY_INFORMATION,
      null,
      null,
      dacl.bytes,
      null,
      descriptor.bytes,
    );
    if (status !== 0) {
      throw about(new Win32Error("GetNamedSecurityInfoW", status), path);
    }
    try {
      // ppDacl points into the descriptor: copy it before freeing that.
      const control = new Deno.UnsafePointerView(descriptor.pointer()!)
        .getUint16(2);
      return {
        dacl: dacl.pointer() === null ? null : readAcl(dacl.pointer()),
        protectedDacl: (control & SE_DACL_PROTECTED) !== 0,
      };
    } finally {
      this.#k.localFree(descriptor.pointer());
    }
  }

  /** Sets `path`'s DACL, keeping its protection from inheritance as it was. */
  async #writeDacl(
    path: string,
    acl: Deno.PointerValue,
    protectedDacl: boolean,
  ): Promise<void> {
    const name = wide(path);
    const status = await this.#a.SetNamedSecurityInfoW(
      name,
      SE_FILE_OBJECT,
      (DACL_SECURITY_INFORMATION |
        (protectedDacl
          ? PROTECTED_DACL_SECURITY_INFORMATION
          : UNPROTECTED_DACL_SECURITY_INFORMATION)) >>> 0,
      null,
      null,
      acl,
      null,
    );
    // The pool thread read the name until the call returned.
    keepAlive(name);
    if (status !== 0) {
      throw about(new Win32Error("SetNamedSecurityInfoW", status), path);
    }
  }

  // --- Registry -------------------------------------------------------------

  /**
   * Loads hive `file` as `root\name` (RegLoadKeyW), enabling the backup and
   * restore privileges it needs first. Note: Windows CREATES an empty hive
   * when `file` does not exist, so check that it does. Fails with
   * ERROR_SHARING_VIOLATION while the hive is in use (its user logged on).
   */
  async loadHive(
    file: string,
    name: string,
    options: { root?: RegistryRoot } = {},
  ): Promise<HiveKey> {
    const root = options.root ?? HKEY_USERS;
    checkRoot(root);
    if (checkKeyPath(name).length !== 1) {
      throw new TypeError(
        `hive name must be one key name: ${JSON.stringify(name)}`,
      );
    }
    checkPath(file, "hive file");
    if (!/^[A-Za-z]:\\/.test(file)) {
      throw new TypeError(`hive file must be a local absolute path: ${file}`);
    }
    this.enablePrivilege(SE_BACKUP_NAME);
    this.enablePrivilege(SE_RESTORE_NAME);
    const status = await this.#a.RegLoadKeyW(
      pointerAt(root),
      wide(name),
      wide(file),
    );
    if (status !== 0) throw about(new Win32Error("RegLoadKeyW", status), file);
    return { root, path: name };
  }

  /**
   * Unloads hive `root\name`. Fails with ERROR_ACCESS_DENIED while any key
   * in it is open (this wrapper closes every key it opens).
   */
  async unloadHive(
    name: string,
    options: { root?: RegistryRoot } = {},
  ): Promise<void> {
    const root = options.root ?? HKEY_USERS;
    checkRoot(root);
    if (checkKeyPath(name).length !== 1) {
      throw new TypeError(
        `hive name must be one key name: ${JSON.stringify(name)}`,
      );
    }
    this.enablePrivilege(SE_BACKUP_NAME);
    this.enablePrivilege(SE_RESTORE_NAME);
    const status = await this.#a.RegUnLoadKeyW(pointerAt(root), wide(name));
    if (status !== 0) {
      throw about(new Win32Error("RegUnLoadKeyW", status), name);
    }
  }

  /**
   * Loads hive `file` as `HKEY_USERS\name`, runs `fn` with it, and always
   * unloads it. When both `fn` and the unload fail, both errors are thrown
   * together (an AggregateError): a hive left loaded blocks its user's next
   * logon.
   */
  async withLoadedHive<T>(
    file: string,
    name: string,
    fn: (hive: HiveKey) => T | Promise<T>,
  ): Promise<T> {
    const hive = await this.loadHive(file, name);
    let result: T;
    try {
      result = await fn(hive);
    } catch (error) {
      try {
        await this.unloadHive(name);
      } catch (unloadError) {
        throw new AggregateError(
          [error, unloadError],
          `${(error as Error).message}; then ${(unloadError as Error).message}`,
        );
      }
      throw error;
    }
    await this.unloadHive(name);
    return result;
  }

  /** Whether `root\path` exists. */
  keyExists(root: RegistryRoot, path: string): boolean {
    checkRoot(root);
    checkKeyPath(path);
    const out = new OutParam();
    const status = this.#a.RegOpenKeyExW(
      pointerAt(root),
      wide(path),
      0,
      KEY_READ,
      out.bytes,
    );
    if (status === ERROR_FILE_NOT_FOUND) return false;
    if (status !== 0) {
      throw about(new Win32Error("RegOpenKeyExW", status), path);
    }
    this.#closeKey(out.pointer());
    return true;
  }

  /** Creates `root\path` and any missing parents; true when it was new. */
  createKey(root: RegistryRoot, path: string): boolean {
    const key = this.#createKey(root, path);
    this.#closeKey(key.handle);
    return key.created;
  }

  /**
   * Deletes `root\path` with all its subkeys and values; false when it did
   * not exist. Refuses a top-level key (a hive, or all of a user's).
   */
  deleteTree(root: RegistryRoot, path: string): boolean {
    checkRoot(root);
    if (checkKeyPath(path).length < 2) {
      throw new TypeError(
        `refusing to delete a top-level registry key: ${path}`,
      );
    }
    const status = this.#a.RegDeleteTreeW(pointerAt(root), wide(path));
    if (status === ERROR_FILE_NOT_FOUND) return false;
    if (status !== 0) {
      throw about(new Win32Error("RegDeleteTreeW", status), path);
    }
    return true;
  }

  /** Sets string value `name` (REG_SZ, or REG_EXPAND_SZ with `expand`) of `root\path`, creating the key. */
  setString(
    root: RegistryRoot,
    path: string,
    value: { name: string; data: string; expand?: boolean },
  ): void {
    checkValueName(value.name);
    const data = wide(value.data); // cbData counts the NUL
    this.#setValue(root, path, {
      name: value.name,
      type: value.expand ? REG_EXPAND_SZ : REG_SZ,
      data,
    });
  }

  /**
   * String value `name` of `root\path` (REG_SZ, or REG_EXPAND_SZ with
   * `expand: true` and its `%VARIABLES%` left as stored: expand them with
   * `Kernel32.expandEnvironment`); undefined when the key or the value does
   * not exist. A value of another type fails with ERROR_UNSUPPORTED_TYPE.
   * The buffer grows to the size the call reports (the value may change in
   * between: a few retries).
   */
  getString(
    root: RegistryRoot,
    path: string,
    value: { name: string },
  ): { data: string; expand: boolean } | undefined {
    checkRoot(root);
    checkKeyPath(path);
    checkValueName(value.name);
    const subKey = wide(path);
    const name = wide(value.name);
    // RRF_RT_REG_EXPAND_SZ is only accepted together with RRF_NOEXPAND.
    const flags = (RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND) >>> 0;
    let bytes = 520; // MAX_PATH characters: a path fits at once
    for (let attempt = 1;; attempt++) {
      const data = new Uint8Array(bytes);
      const type = new Uint32Array(1);
      const size = Uint32Array.of(bytes);
      const status = this.#a.RegGetValueW(
        pointerAt(root),
        subKey,
        name,
        flags,
        type,
        data,
        size,
      );
      if (status === 0) {
        return {
          // pcbData counts the bytes written, the NUL included.
          data: fromWide(data.subarray(0, Math.min(size[0], bytes))),
          expand: type[0] === REG_EXPAND_SZ,
        };
      }
      if (status === ERROR_FILE_NOT_FOUND) return undefined;
      if (status !== ERROR_MORE_DATA || attempt >= 3) {
        throw about(
          new Win32Error("RegGetValueW", status),
          `${path}\\${value.name}`,
        );
      }
      // Room for a NUL the stored string may lack, which the call adds.
      bytes = Math.max(bytes + 2, size[0] + 2);
    }
  }

  /** Sets DWORD value `name` of `root\path`, creating the key. */
  setDword(
    root: RegistryRoot,
    path: string,
    value: { name: string; data: number },
  ): void {
    checkValueName(value.name);
    if (
      !Number.isInteger(value.data) || value.data < 0 || value.data > 0xffffffff
    ) {
      throw new RangeError(`not a DWORD: ${value.data}`);
    }
    const data = new Uint8Array(4);
    viewOf(data).setUint32(0, value.data, true);
    this.#setValue(root, path, { name: value.name, type: REG_DWORD, data });
  }

  /** Deletes value `name` of `root\path`; false when it (or the key) did not exist. */
  deleteValue(
    root: RegistryRoot,
    path: string,
    value: { name: string },
  ): boolean {
    checkRoot(root);
    checkKeyPath(path);
    checkValueName(value.name);
    const out = new OutParam();
    const open = this.#a.RegOpenKeyExW(
      pointerAt(root),
      wide(path),
      0,
      KEY_SET_VALUE,
      out.bytes,
    );
    if (open === ERROR_FILE_NOT_FOUND) return false;
    if (open !== 0) throw about(new Win32Error("RegOpenKeyExW", open), path);
    try {
      const status = this.#a.RegDeleteValueW(out.pointer(), wide(value.name));
      if (status === ERROR_FILE_NOT_FOUND) return false;
      if (status !== 0) {
        throw about(
          new Win32Error("RegDeleteValueW", status),
          `${path}\\${value.name}`,
        );
      }
      return true;
    } finally {
      this.#closeKey(out.pointer());
    }
  }

  #setValue(
    root: RegistryRoot,
    path: string,
    value: { name: string; type: number; data: Uint8Array },
  ): void {
    const key = this.#createKey(root, path);
    try {
      const status = this.#a.RegSetValueExW(
        key.handle,
        wide(value.name),
        0,
        value.type,
        value.data,
        value.data.byteLength,
      );
      if (status !== 0) {
        throw about(
          new Win32Error("RegSetValueExW", status),
          `${path}\\${value.name}`,
        );
      }
    } finally {
      this.#closeKey(key.handle);
    }
  }

  #createKey(
    root: RegistryRoot,
    path: string,
  ): { handle: Deno.PointerValue; created: boolean } {
    checkRoot(root);
    checkKeyPath(path);
    const out = new OutParam();
    const disposition = new Uint32Array(1);
    const status = this.#a.RegCreateKeyExW(
      pointerAt(root),
      wide(path),
      0,
      null,
      REG_OPTION_NON_VOLATILE,
      KEY_READ | KEY_WRITE,
      null,
      out.bytes,
      disposition,
    );
    if (status !== 0) {
      throw about(new Win32Error("RegCreateKeyExW", status), path);
    }
    return {
      handle: out.pointer(),
      created: disposition[0] === REG_CREATED_NEW_KEY,
    };
  }

  #closeKey(key: Deno.PointerValue): void {
    checkStatus("RegCloseKey", this.#a.RegCloseKey(key));
  }
}

/** A UTF-16 string of `units` code units from an output buffer (bounded by it). */
function readWideIn(bytes: Uint8Array, units: number): string {
  const n = Math.min(units, bytes.byteLength >> 1);
  return new TextDecoder("utf-16le").decode(bytes.subarray(0, n * 2));
}
