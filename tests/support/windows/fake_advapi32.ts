/**
 * A fake advapi32 (logon, CreateProcessAsUser, privileges, SIDs, file
 * DACLs, registry) implementing the C contract of `ADVAPI32_SYMBOLS` over
 * real memory, on top of {@linkcode FakeKernel32} (last error, handles,
 * `LocalFree`).
 *
 * It reads what the wrapper passes through the addresses it was given —
 * STARTUPINFOW and the desktop string behind `lpDesktop`, EXPLICIT_ACCESS_W
 * and the SID behind its trustee, TOKEN_PRIVILEGES, ACLs — using the SDK's
 * x64 offsets written out here independently of the module under test. What
 * it hands out (SIDs, SID strings, security descriptors, ACLs) lives in
 * `kernel.localHeap` and must be `LocalFree`d exactly once. Tokens, process
 * and thread handles go in the kernel32 handle table (CloseHandle); registry
 * keys too, as kind `hkey` (RegCloseKey). `nonblocking` functions resolve a
 * turn later and never touch the event-loop thread's last error.
 *
 * Modelled beyond the happy path: ERROR_INSUFFICIENT_BUFFER sizing in the
 * account lookups and in GetTokenInformation (TokenPrivileges: the
 * privileges held, SE_PRIVILEGE_ENABLED on the enabled ones), SET_ACCESS,
 * DENY_ACCESS and REVOKE_ACCESS in SetEntriesInAclW, RegGetValueW's
 * ERROR_MORE_DATA sizing, type filter (ERROR_UNSUPPORTED_TYPE) and refusal
 * of RRF_RT_REG_EXPAND_SZ without RRF_NOEXPAND, ERROR_NOT_ALL_ASSIGNED from
 * AdjustTokenPrivileges, RegLoadKey's privileges, create-if-missing hive
 * files and sharing violation, RegUnLoadKey refused while keys of the hive
 * are open, and inheritance of ACEs to existing children by
 * SetNamedSecurityInfoW (none into a protected DACL).
 *
 * Stricter than Windows, to catch wrapper mistakes: predefined registry
 * roots must be the sign-extended 64-bit values; REG_SZ data must include
 * its NUL and REG_DWORD be 4 bytes; an environment block needs
 * CREATE_UNICODE_ENVIRONMENT; STARTUPINFOW.cb must be 104.
 *
 * @module
 */
import type { Advapi32Symbols } from "../../../ffi/windows/advapi32.ts";
import { addressOfPointer, pointerAt } from "../../../ffi/windows/struct.ts";
import {
  type BufferArg,
  bufferBytes,
  CURRENT_PROCESS_PSEUDO_HANDLE,
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  type FakeKernel32,
  offThread,
  readU32,
  writeAddress,
  writeU32,
} from "./fake_kernel32.ts";

/** Win32 codes the fake returns. */
export const CODES = {
  ERROR_FILE_NOT_FOUND: 2,
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_HANDLE,
  ERROR_SHARING_VIOLATION: 32,
  ERROR_INVALID_PARAMETER,
  ERROR_INSUFFICIENT_BUFFER: 122,
  ERROR_ALREADY_EXISTS: 183,
  ERROR_MORE_DATA: 234,
  ERROR_UNSUPPORTED_TYPE: 1630,
  ERROR_NOT_ALL_ASSIGNED: 1300,
  ERROR_NO_SUCH_PRIVILEGE: 1313,
  ERROR_PRIVILEGE_NOT_HELD: 1314,
  ERROR_LOGON_FAILURE: 1326,
  ERROR_ACCOUNT_DISABLED: 1331,
  ERROR_NONE_MAPPED: 1332,
  ERROR_INVALID_ACL: 1336,
  ERROR_INVALID_SID: 1337,
  ERROR_BAD_TOKEN_TYPE: 1349,
  ERROR_NO_LOGON_SERVERS: 1311,
} as const;

/** The predefined keys as Windows x64 passes them (sign-extended). */
export const HKLM = 0xffffffff80000002n;
/** `HKEY_USERS`, sign-extended. */
export const HKU = 0xffffffff80000003n;

/** An account (user, group, alias…) the fake's LSA knows. */
export interface FakeAccount {
  /** Name (as displayed: localized for built-ins). */
  name: string;
  /** Its domain: the computer name, `BUILTIN`, `NT AUTHORITY`. */
  domain: string;
  /** `S-1-…`. */
  sid: string;
  /** SID_NAME_USE. */
  use: number;
  /** For users: the password LogonUser accepts. */
  password?: string;
  /** LogonUser fails with ERROR_ACCOUNT_DISABLED. */
  disabled?: boolean;
}

/** An ACE as the fake stores it. */
export interface FakeAce {
  /** 0 allowed, 1 denied. */
  type: number;
  /** ACE flags (OI 1, CI 2, NP 4, IO 8, INHERITED 0x10). */
  flags: number;
  /** Access mask. */
  mask: number;
  /** Trustee `S-1-…`. */
  sid: string;
  /** For inherited ACEs: the (lower-case) path they came from. */
  from?: string;
}

/** A file or directory's security. */
export interface FakeFile {
  /** Whether it is a directory (inherits container ACEs). */
  directory: boolean;
  /** Explicit ACEs, or null for a NULL DACL. */
  explicit: FakeAce[] | null;
  /** Inherited ACEs (after the explicit ones). */
  inherited: FakeAce[];
  /** SE_DACL_PROTECTED. */
  protected: boolean;
}

/** A registry key. */
export class FakeKey {
  /** Its name as created. */
  name: string;
  /** Values by lower-case name. */
  readonly values: Map<
    string,
    { name: string; type: number; data: Uint8Array }
  > = new Map();
  /** Subkeys by lower-case name. */
  readonly subkeys: Map<string, FakeKey> = new Map();
  /** For a hive root: its file. */
  hiveFile?: string;

  constructor(name: string) {
    this.name = name;
  }

  /** The subkey at `path` (backslash separated, case-insensitive). */
  find(path: string): FakeKey | undefined {
    const parts = path ? path.split("\\") : [];
    return parts.reduce<FakeKey | undefined>(
      (key, part) => key?.subkeys.get(part.toLowerCase()),
      this,
    );
  }
}

/** One CreateProcessAsUserW call, as the fake read it from memory. */
export interface FakeLaunch {
  /** New process id. */
  pid: number;
  /** The token's user. */
  user: string;
  /** lpApplicationName. */
  application: string | null;
  /** lpCommandLine. */
  commandLine: string;
  /** dwCreationFlags. */
  flags: number;
  /** bInheritHandles. */
  inheritHandles: number;
  /** The environment block's strings, or null. */
  environment: string[] | null;
  /** lpCurrentDirectory. */
  cwd: string | null;
  /** STARTUPINFOW.lpDesktop. */
  desktop: string | null;
  /** STARTUPINFOW.dwFlags. */
  startupFlags: number;
  /** STARTUPINFOW.wShowWindow. */
  showWindow: number;
}

/** An EXPLICIT_ACCESS_W entry as SetEntriesInAclW read it. */
export interface FakeExplicitAccess {
  /** grfAccessPermissions. */
  mask: number;
  /** grfAccessMode. */
  mode: number;
  /** grfInheritance. */
  inheritance: number;
  /** Trustee.TrusteeForm. */
  form: number;
  /** Trustee.TrusteeType. */
  trusteeType: number;
  /** The trustee SID behind ptstrName. */
  sid: string;
}

const LUIDS: Record<string, number> = {
  secreatetokenprivilege: 2,
  seassignprimarytokenprivilege: 3,
  selockmemoryprivilege: 4,
  seincreasequotaprivilege: 5,
  setcbprivilege: 7,
  sesecurityprivilege: 8,
  setakeownershipprivilege: 9,
  sebackupprivilege: 17,
  serestoreprivilege: 18,
  seshutdownprivilege: 19,
  sedebugprivilege: 20,
  sechangenotifyprivilege: 23,
  seimpersonateprivilege: 29,
};
const SDDL_ALIASES: Record<string, string> = {
  BA: "S-1-5-32-544",
  BU: "S-1-5-32-545",
  RD: "S-1-5-32-555",
  SY: "S-1-5-18",
  WD: "S-1-1-0",
};

/** `RRF_RT_ANY` (winreg.h). */
const RRF_RT_ANY = 0x0000ffff;
/** `RRF_NOEXPAND`. */
const RRF_NOEXPAND = 0x10000000;
/** The RRF_RT_* bit of each registry value type (REG_NONE … REG_QWORD). */
const RRF_TYPE_BITS: Record<number, number> = {
  0: 0x01,
  1: 0x02,
  2: 0x04,
  3: 0x08,
  4: 0x10,
  7: 0x20,
  11: 0x40,
};

// SDK x64 offsets, written out here on purpose (not imported).
const SI = {
  size: 104,
  cb: 0,
  lpReserved: 8,
  lpDesktop: 16,
  lpTitle: 24,
  dwFlags: 60,
  wShowWindow: 64,
  cbReserved2: 66,
  lpReserved2: 72,
  hStdInput: 80,
  hStdOutput: 88,
  hStdError: 96,
};
const PI = { hProcess: 0, hThread: 8, dwProcessId: 16, dwThreadId: 20 };
const EA = {
  size: 48,
  perms: 0,
  mode: 4,
  inheritance: 8,
  pMultiple: 16,
  multipleOp: 24,
  form: 28,
  type: 32,
  name: 40,
};
const TP = { count: 0, first: 4, stride: 12, low: 0, high: 4, attributes: 8 };

function view(pointer: Deno.PointerValue): Deno.UnsafePointerView {
  if (pointer === null) throw new TypeError("fake: NULL pointer dereferenced");
  return new Deno.UnsafePointerView(pointer);
}

/** The address of a buffer argument: the fake reads through it like C does. */
function at(buffer: BufferArg): Deno.PointerValue {
  return Deno.UnsafePointer.of(bufferBytes(buffer) as Uint8Array<ArrayBuffer>);
}

/** A NUL-terminated UTF-16 string at `pointer`. */
function wstr(pointer: Deno.PointerValue): string {
  const v = view(pointer);
  let s = "";
  for (let i = 0;; i += 2) {
    const unit = v.getUint16(i);
    if (unit === 0) return s;
    s += String.fromCharCode(unit);
  }
}

/** A buffer argument's string, or null. */
function wstrArg(buffer: BufferArg): string | null {
  return buffer === null ? null : wstr(at(buffer));
}

/** A double-NUL list of UTF-16 strings at `pointer`. */
function wlist(pointer: Deno.PointerValue): string[] {
  if (pointer === null) throw new TypeError("fake: NULL pointer dereferenced");
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const s = wstr(Deno.UnsafePointer.offset(pointer, offset));
    if (!s) return out;
    out.push(s);
    offset += (s.length + 1) * 2;
  }
}

/** `s` as UTF-16LE with a NUL. */
function utf16z(s: string): Uint8Array {
  const out = new Uint8Array((s.length + 1) * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < s.length; i++) dv.setUint16(i * 2, s.charCodeAt(i), true);
  return out;
}

/** Parses `S-1-…` the way ConvertStringSidToSid does; undefined when invalid. */
export function sidBytes(s: string): Uint8Array | undefined {
  const text = SDDL_ALIASES[s] ?? s;
  const m = /^S-1-(\d+|0x[0-9a-f]{12})((?:-\d+)*)$/i.exec(text);
  if (!m) return undefined;
  const authority = BigInt(m[1]);
  const subs = m[2] ? m[2].slice(1).split("-").map(Number) : [];
  if (
    authority >= 1n << 48n || subs.length > 15 ||
    subs.some((n) => n > 0xffffffff)
  ) {
    return undefined;
  }
  const out = new Uint8Array(8 + 4 * subs.length);
  const dv = new DataView(out.buffer);
  out[0] = 1;
  out[1] = subs.length;
  for (let i = 0; i < 6; i++) {
    out[2 + i] = Number((authority >> BigInt(8 * (5 - i))) & 0xffn);
  }
  subs.forEach((n, i) => dv.setUint32(8 + 4 * i, n, true));
  return out;
}

/** Formats a binary SID; undefined when it is not one. */
export function sidString(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 || bytes[0] !== 1 || bytes[1] > 15) return undefined;
  if (bytes.length < 8 + 4 * bytes[1]) return undefined;
  let authority = 0n;
  for (let i = 0; i < 6; i++) {
    authority = (authority << 8n) | BigInt(bytes[2 + i]);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const subs = Array.from(
    { length: bytes[1] },
    (_, i) => dv.getUint32(8 + 4 * i, true),
  );
  const auth = authority < 1n << 32n
    ? authority.toString()
    : "0x" + authority.toString(16).toUpperCase().padStart(12, "0");
  return ["S-1-" + auth, ...subs].join("-");
}

/** A SID read from memory at `pointer`. */
function readSid(pointer: Deno.PointerValue): Uint8Array | undefined {
  const v = view(pointer);
  const count = v.getUint8(1);
  if (v.getUint8(0) !== 1 || count > 15) return undefined;
  const out = new Uint8Array(8 + 4 * count);
  v.copyInto(out);
  return out;
}

/** An ACL's bytes from memory (its AclSize). */
function readAclBytes(pointer: Deno.PointerValue): Uint8Array {
  const size = view(pointer).getUint16(2);
  const out = new Uint8Array(size);
  view(pointer).copyInto(out);
  return out;
}

/** Decodes an ACL (allowed/denied ACEs; anything else is refused). */
export function decodeAcl(acl: Uint8Array): FakeAce[] | undefined {
  const dv = new DataView(acl.buffer, acl.byteOffset, acl.byteLength);
  if (acl.length < 8 || ![2, 4].includes(acl[0])) return undefined;
  const size = dv.getUint16(2, true);
  const count = dv.getUint16(4, true);
  if (size > acl.length) return undefined;
  const out: FakeAce[] = [];
  let offset = 8;
  for (let i = 0; i < count; i++) {
    if (offset + 8 > size) return undefined;
    const type = acl[offset];
    const flags = acl[offset + 1];
    const aceSize = dv.getUint16(offset + 2, true);
    if (aceSize < 16 || offset + aceSize > size || aceSize % 4) {
      return undefined;
    }
    if (type > 1) return undefined;
    const sid = sidString(acl.subarray(offset + 8, offset + aceSize));
    if (!sid) return undefined;
    out.push({ type, flags, mask: dv.getUint32(offset + 4, true), sid });
    offset += aceSize;
  }
  return out;
}

/** Encodes ACEs as an ACL (revision 2). */
export function encodeAcl(aces: readonly FakeAce[]): Uint8Array {
  const parts = aces.map((a) => {
    const sid = sidBytes(a.sid)!;
    const ace = new Uint8Array(8 + sid.length);
    const dv = new DataView(ace.buffer);
    ace[0] = a.type;
    ace[1] = a.flags;
    dv.setUint16(2, ace.length, true);
    dv.setUint32(4, a.mask >>> 0, true);
    ace.set(sid, 8);
    return ace;
  });
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = 2;
  dv.setUint16(2, size, true);
  dv.setUint16(4, parts.length, true);
  let offset = 8;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** The fake advapi32. `symbols` implements {@linkcode Advapi32Symbols}. */
export class FakeAdvapi32 {
  /** The kernel32 fake shared for last errors, handles and LocalFree. */
  readonly kernel: FakeKernel32;
  /** This computer's name (the domain of local accounts). */
  computerName = "WSHOST";
  /** The accounts LookupAccount*, LogonUser know. */
  readonly accounts: FakeAccount[] = [
    { name: "SYSTEM", domain: "NT AUTHORITY", sid: "S-1-5-18", use: 5 },
    {
      name: "Administratoren",
      domain: "VORDEFINIERT",
      sid: "S-1-5-32-544",
      use: 4,
    },
    // A German system: the group's name is localized, its SID is not.
    {
      name: "Remotedesktopbenutzer",
      domain: "VORDEFINIERT",
      sid: "S-1-5-32-555",
      use: 4,
    },
  ];
  /** Privileges this process's token holds (lower case). */
  readonly held: Set<string> = new Set(Object.keys(LUIDS));
  /** Privileges enabled in it (lower case). */
  readonly enabled: Set<string> = new Set(["sechangenotifyprivilege"]);
  /** Files and directories by lower-case path. */
  readonly files: Map<string, FakeFile> = new Map();
  /** Hive files by lower-case path (their content while not loaded, too). */
  readonly hiveFiles: Map<string, FakeKey> = new Map();
  /** Hive files RegLoadKeyW created because they did not exist. */
  readonly createdHiveFiles: string[] = [];
  /** HKEY_LOCAL_MACHINE and HKEY_USERS. */
  readonly roots: Map<bigint, FakeKey> = new Map([
    [HKLM, new FakeKey("HKEY_LOCAL_MACHINE")],
    [HKU, new FakeKey("HKEY_USERS")],
  ]);
  /** Every CreateProcessAsUserW, as read from memory. */
  readonly launches: FakeLaunch[] = [];
  /** Every SetEntriesInAclW entry, as read from memory. */
  readonly explicitAccess: FakeExplicitAccess[] = [];
  /** SecurityInformation flags of every SetNamedSecurityInfoW, by path. */
  readonly securityWrites: Array<{ path: string; info: number }> = [];
  /** The password buffer LogonUserW last received (to check it is wiped). */
  lastPassword?: Uint8Array;
  /** The next failure to inject per function: its code. */
  readonly failNext: Map<string, number> = new Map();
  /** Function names in call order. */
  readonly calls: string[] = [];
  /** The raw functions, as the wrapper sees them. */
  readonly symbols: Advapi32Symbols;

  #nextPid = 5000;

  constructor(kernel: FakeKernel32) {
    this.kernel = kernel;
    const hku = this.roots.get(HKU)!;
    hku.subkeys.set(".default", new FakeKey(".DEFAULT"));
    hku.subkeys.set("s-1-5-18", new FakeKey("S-1-5-18"));
    this.symbols = this.#makeSymbols();
  }

  /** Adds a local user (domain: the computer name). */
  addUser(
    name: string,
    options: { sid: string; password?: string; disabled?: boolean },
  ): FakeAccount {
    const account = {
      name,
      domain: this.computerName,
      sid: options.sid,
      use: 1,
      password: options.password,
      disabled: options.disabled,
    };
    this.accounts.push(account);
    return account;
  }

  /** Adds a file or directory with explicit and inherited ACEs. */
  addFile(
    path: string,
    options: Partial<FakeFile> = {},
  ): FakeFile {
    const file: FakeFile = {
      directory: options.directory ?? false,
      explicit: options.explicit === undefined ? [] : options.explicit,
      inherited: options.inherited ?? [],
      protected: options.protected ?? false,
    };
    this.files.set(path.toLowerCase(), file);
    return file;
  }

  /** A file's ACEs in order: explicit then inherited (null: NULL DACL). */
  dacl(path: string): FakeAce[] | null {
    const f = this.files.get(path.toLowerCase());
    if (!f) throw new Error(`fake: no file ${path}`);
    return f.explicit === null ? null : [...f.explicit, ...f.inherited];
  }

  /** The hive file `file`, created empty if new (to seed content). */
  hiveFile(file: string): FakeKey {
    const key = file.toLowerCase();
    let hive = this.hiveFiles.get(key);
    if (!hive) {
      hive = new FakeKey("");
      hive.hiveFile = file;
      this.hiveFiles.set(key, hive);
    }
    return hive;
  }

  /** The key at `root\path`, if it exists. */
  key(root: bigint, path: string): FakeKey | undefined {
    return this.roots.get(root)?.find(path);
  }

  #inject(fn: string): number | undefined {
    this.calls.push(fn);
    const code = this.failNext.get(fn);
    if (code !== undefined) this.failNext.delete(fn);
    return code;
  }

  #account(sid: string): FakeAccount | undefined {
    return this.accounts.find((a) => a.sid === sid);
  }

  /** The key an HKEY argument names, with the hive it is in. */
  #hkey(
    pointer: Deno.PointerValue,
  ): { key: FakeKey; root?: bigint } | undefined {
    const address = addressOfPointer(pointer);
    const root = this.roots.get(address);
    if (root) return { key: root, root: address };
    const h = this.kernel.handle(pointer, "hkey");
    return h ? { key: h.data.key as FakeKey } : undefined;
  }

  /** The mounted hive root `key` lies in (walking down from the roots). */
  #hiveOf(key: FakeKey): FakeKey | undefined {
    for (const root of this.roots.values()) {
      for (const top of root.subkeys.values()) {
        if (top.hiveFile === undefined) continue;
        const stack = [top];
        while (stack.length) {
          const k = stack.pop()!;
          if (k === key) return top;
          stack.push(...k.subkeys.values());
        }
      }
    }
    return undefined;
  }

  #privilegesForHives(): boolean {
    return this.enabled.has("sebackupprivilege") &&
      this.enabled.has("serestoreprivilege");
  }

  /** Re-derives the inherited ACEs below `path` from its inheritable ones. */
  #propagate(path: string): void {
    const parent = this.files.get(path)!;
    const inheritable = (parent.explicit ?? []).filter((a) => a.flags & 3);
    for (const [childPath, child] of this.files) {
      if (!childPath.startsWith(path + "\\") || child.protected) continue;
      child.inherited = [
        ...child.inherited.filter((a) => a.from !== path),
        ...inheritable
          .filter((a) => child.directory || a.flags & 1)
          .map((a) => ({
            type: a.type,
            mask: a.mask,
            sid: a.sid,
            flags: 0x10 | (child.directory ? a.flags & 3 : 0),
            from: path,
          })),
      ];
    }
  }

  #makeSymbols(): Advapi32Symbols {
    const k = this.kernel;
    return {
      LogonUserW: async (user, domain, password, type, provider, token) => {
        const injected = this.#inject("LogonUserW");
        this.lastPassword = password === null
          ? undefined
          : bufferBytes(password);
        const name = wstrArg(user) ?? "";
        const dom = wstrArg(domain);
        const secret = wstrArg(password) ?? "";
        await offThread();
        if (injected !== undefined) return k.failOffThread(injected);
        if (provider !== 0 || (type !== 2 && type !== 3)) {
          return k.failOffThread(ERROR_INVALID_PARAMETER);
        }
        let accountName = name;
        let accountDomain = dom;
        if (dom === null) {
          const [n, d] = name.split("@");
          if (!d) return k.failOffThread(ERROR_INVALID_PARAMETER);
          [accountName, accountDomain] = [n, d];
        }
        const local = accountDomain === "." ||
          accountDomain!.toLowerCase() === this.computerName.toLowerCase();
        if (!local) return k.failOffThread(CODES.ERROR_NO_LOGON_SERVERS);
        const account = this.accounts.find((a) =>
          a.use === 1 && a.domain === this.computerName &&
          a.name.toLowerCase() === accountName.toLowerCase()
        );
        if (!account || account.password !== secret) {
          return k.failOffThread(CODES.ERROR_LOGON_FAILURE);
        }
        if (account.disabled) {
          return k.failOffThread(CODES.ERROR_ACCOUNT_DISABLED);
        }
        const handle = k.createHandle("token", {
          user: account.name,
          sid: account.sid,
          primary: type === 2,
        });
        writeAddress(token, addressOfPointer(handle));
        return 1;
      },

      CreateProcessAsUserW: (
        token,
        application,
        commandLine,
        processAttributes,
        threadAttributes,
        inheritHandles,
        flags,
        environment,
        cwd,
        startupInfo,
        processInformation,
      ) => {
        const injected = this.#inject("CreateProcessAsUserW");
        if (injected !== undefined) return k.fail(injected);
        const t = k.handle(token, "token");
        if (!t) return k.fail(ERROR_INVALID_HANDLE);
        if (!t.data.primary) return k.fail(CODES.ERROR_BAD_TOKEN_TYPE);
        if (
          commandLine === null || startupInfo === null ||
          processInformation === null
        ) {
          return k.fail(ERROR_INVALID_PARAMETER);
        }
        if (processAttributes !== null || threadAttributes !== null) {
          throw new Error("fake: security attributes not modelled");
        }
        // The command line must be writable: CreateProcessW may write to it.
        const line = bufferBytes(commandLine);
        const first = line[0];
        line[0] = first ^ 0xff;
        line[0] = first;
        const si = view(at(startupInfo));
        if (si.getUint32(SI.cb) !== SI.size) {
          return k.fail(ERROR_INVALID_PARAMETER);
        }
        for (
          const field of [
            SI.lpReserved,
            SI.lpTitle,
            SI.lpReserved2,
            SI.hStdInput,
            SI.hStdOutput,
            SI.hStdError,
          ]
        ) {
          if (si.getBigUint64(field) !== 0n) {
            throw new Error(
              `fake: STARTUPINFOW field at ${field} should be zero`,
            );
          }
        }
        if (si.getUint16(SI.cbReserved2) !== 0) {
          throw new Error("fake: cbReserved2");
        }
        if (environment !== null && !(flags & 0x400)) {
          return k.fail(ERROR_INVALID_PARAMETER);
        }
        const desktopAddress = si.getBigUint64(SI.lpDesktop);
        const pid = this.#nextPid++;
        this.launches.push({
          pid,
          user: t.data.user as string,
          application: wstrArg(application),
          commandLine: wstr(at(commandLine)),
          flags,
          inheritHandles,
          environment: environment === null ? null : wlist(environment),
          cwd: wstrArg(cwd),
          desktop: desktopAddress ? wstr(pointerAt(desktopAddress)) : null,
          startupFlags: si.getUint32(SI.dwFlags),
          showWindow: si.getUint16(SI.wShowWindow),
        });
        k.addProcess({ pid, sessionId: (t.data.sessionId as number) ?? 1 });
        const process = k.createHandle("process", { pid });
        const thread = k.createHandle("thread", { pid });
        const out = bufferBytes(processInformation);
        writeAddress(out, addressOfPointer(process), { offset: PI.hProcess });
        writeAddress(out, addressOfPointer(thread), { offset: PI.hThread });
        writeU32(out, pid, { offset: PI.dwProcessId });
        writeU32(out, pid + 1, { offset: PI.dwThreadId });
        return 1;
      },

      OpenProcessToken: (process, access, token) => {
        const injected = this.#inject("OpenProcessToken");
        if (injected !== undefined) return k.fail(injected);
        if (addressOfPointer(process) !== CURRENT_PROCESS_PSEUDO_HANDLE) {
          return k.fail(ERROR_INVALID_HANDLE);
        }
        const handle = k.createHandle("token", { process: true, access });
        writeAddress(token, addressOfPointer(handle));
        return 1;
      },

      LookupPrivilegeValueW: (system, name, luid) => {
        const injected = this.#inject("LookupPrivilegeValueW");
        if (injected !== undefined) return k.fail(injected);
        if (system !== null) {
          throw new Error("fake: remote systems not modelled");
        }
        const value = LUIDS[(wstrArg(name) ?? "").toLowerCase()];
        if (value === undefined) return k.fail(CODES.ERROR_NO_SUCH_PRIVILEGE);
        writeU32(luid, value, { offset: 0 });
        writeU32(luid, 0, { offset: 4 });
        return 1;
      },

      AdjustTokenPrivileges: (
        token,
        disableAll,
        newState,
        length,
        previous,
        returned,
      ) => {
        const injected = this.#inject("AdjustTokenPrivileges");
        if (injected !== undefined) return k.fail(injected);
        const t = k.handle(token, "token");
        if (!t) return k.fail(ERROR_INVALID_HANDLE);
        if (!((t.data.access as number) & 0x20)) {
          return k.fail(ERROR_ACCESS_DENIED);
        }
        if (
          disableAll || previous !== null || returned !== null || length !== 0
        ) {
          throw new Error(
            "fake: only enabling without the previous state is modelled",
          );
        }
        const tp = view(at(newState));
        let notAll = false;
        for (let i = 0; i < tp.getUint32(TP.count); i++) {
          const base = TP.first + i * TP.stride;
          const low = tp.getUint32(base + TP.low);
          const high = tp.getInt32(base + TP.high);
          const name = Object.keys(LUIDS).find((n) =>
            LUIDS[n] === low && high === 0
          );
          if (!name) return k.fail(ERROR_INVALID_PARAMETER);
          if (!this.held.has(name)) {
            notAll = true;
            continue;
          }
          if (tp.getUint32(base + TP.attributes) & 2) this.enabled.add(name);
          else this.enabled.delete(name);
        }
        // Success either way; the last error tells whether all were assigned.
        k.lastError = notAll ? CODES.ERROR_NOT_ALL_ASSIGNED : 0;
        return 1;
      },

      GetTokenInformation: (token, infoClass, info, length, returned) => {
        const injected = this.#inject("GetTokenInformation");
        if (injected !== undefined) return k.fail(injected);
        const t = k.handle(token, "token");
        if (!t) return k.fail(ERROR_INVALID_HANDLE);
        const access = (t.data.access as number | undefined) ?? 0xf01ff;
        if (!(access & 0x8)) return k.fail(ERROR_ACCESS_DENIED); // TOKEN_QUERY
        if (infoClass !== 3) {
          throw new Error(`fake: TOKEN_INFORMATION_CLASS ${infoClass}`);
        }
        if (returned === null) return k.fail(ERROR_INVALID_PARAMETER);
        // TOKEN_PRIVILEGES: every privilege held, enabled or not.
        const held = Object.keys(LUIDS).filter((n) => this.held.has(n));
        const size = TP.first + TP.stride * held.length;
        writeU32(returned, size);
        if (info === null || length < size) {
          return k.fail(CODES.ERROR_INSUFFICIENT_BUFFER);
        }
        const out = bufferBytes(info);
        if (out.byteLength < length) {
          throw new Error("fake: TokenInformationLength exceeds the buffer");
        }
        const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
        dv.setUint32(TP.count, held.length, true);
        held.forEach((name, i) => {
          const base = TP.first + i * TP.stride;
          dv.setUint32(base + TP.low, LUIDS[name], true);
          dv.setInt32(base + TP.high, 0, true);
          // SE_PRIVILEGE_ENABLED (2); change-notify is enabled by default (1).
          const attributes = (this.enabled.has(name) ? 2 : 0) |
            (name === "sechangenotifyprivilege" ? 1 : 0);
          dv.setUint32(base + TP.attributes, attributes, true);
        });
        return 1;
      },

      ConvertStringSidToSidW: (text, sid) => {
        const injected = this.#inject("ConvertStringSidToSidW");
        if (injected !== undefined) return k.fail(injected);
        const bytes = sidBytes(wstrArg(text) ?? "");
        if (!bytes) return k.fail(CODES.ERROR_INVALID_SID);
        writeAddress(
          sid,
          k.localHeap.alloc(bytes, "ConvertStringSidToSidW").address,
        );
        return 1;
      },

      ConvertSidToStringSidW: (sid, text) => {
        const injected = this.#inject("ConvertSidToStringSidW");
        if (injected !== undefined) return k.fail(injected);
        const bytes = readSid(at(sid));
        const s = bytes && sidString(bytes);
        if (!s) return k.fail(CODES.ERROR_INVALID_SID);
        writeAddress(
          text,
          k.localHeap.alloc(utf16z(s), "ConvertSidToStringSidW").address,
        );
        return 1;
      },

      GetLengthSid: (sid) => {
        this.calls.push("GetLengthSid");
        return 8 + 4 * view(sid).getUint8(1);
      },

      LookupAccountSidW: (
        system,
        sid,
        name,
        cchName,
        domain,
        cchDomain,
        use,
      ) => {
        const injected = this.#inject("LookupAccountSidW");
        if (injected !== undefined) return k.fail(injected);
        if (system !== null) {
          throw new Error("fake: remote systems not modelled");
        }
        const bytes = readSid(at(sid));
        const s = bytes && sidString(bytes);
        if (!s) return k.fail(CODES.ERROR_INVALID_SID);
        const account = this.#account(s);
        if (!account) return k.fail(CODES.ERROR_NONE_MAPPED);
        const needName = account.name.length + 1;
        const needDomain = account.domain.length + 1;
        if (readU32(cchName) < needName || readU32(cchDomain) < needDomain) {
          writeU32(cchName, needName);
          writeU32(cchDomain, needDomain);
          return k.fail(CODES.ERROR_INSUFFICIENT_BUFFER);
        }
        bufferBytes(name!).set(utf16z(account.name));
        bufferBytes(domain!).set(utf16z(account.domain));
        writeU32(cchName, account.name.length);
        writeU32(cchDomain, account.domain.length);
        writeU32(use, account.use);
        return 1;
      },

      LookupAccountNameW: (
        system,
        accountName,
        sid,
        cbSid,
        domain,
        cchDomain,
        use,
      ) => {
        const injected = this.#inject("LookupAccountNameW");
        if (injected !== undefined) return k.fail(injected);
        if (system !== null) {
          throw new Error("fake: remote systems not modelled");
        }
        const full = wstrArg(accountName) ?? "";
        const [d, n] = full.includes("\\")
          ? full.split("\\")
          : [undefined, full];
        const account = this.accounts.find((a) =>
          a.name.toLowerCase() === n.toLowerCase() &&
          (d === undefined || a.domain.toLowerCase() === d.toLowerCase())
        );
        if (!account) return k.fail(CODES.ERROR_NONE_MAPPED);
        const bytes = sidBytes(account.sid)!;
        const needDomain = account.domain.length + 1;
        if (readU32(cbSid) < bytes.length || readU32(cchDomain) < needDomain) {
          writeU32(cbSid, bytes.length);
          writeU32(cchDomain, needDomain);
          return k.fail(CODES.ERROR_INSUFFICIENT_BUFFER);
        }
        bufferBytes(sid!).set(bytes);
        bufferBytes(domain!).set(utf16z(account.domain));
        writeU32(cbSid, bytes.length);
        writeU32(cchDomain, account.domain.length);
        writeU32(use, account.use);
        return 1;
      },

      GetNamedSecurityInfoW: (
        name,
        type,
        info,
        owner,
        group,
        dacl,
        sacl,
        descriptor,
      ) => {
        const injected = this.#inject("GetNamedSecurityInfoW");
        if (injected !== undefined) return injected;
        if (type !== 1 || info !== 4 || dacl === null || descriptor === null) {
          return ERROR_INVALID_PARAMETER;
        }
        if (owner !== null || group !== null || sacl !== null) {
          throw new Error("fake: only the DACL is modelled");
        }
        const file = this.files.get((wstrArg(name) ?? "").toLowerCase());
        if (!file) return CODES.ERROR_FILE_NOT_FOUND;
        // A self-relative SECURITY_DESCRIPTOR with the DACL right after it.
        const acl = file.explicit === null
          ? new Uint8Array(0)
          : encodeAcl([...file.explicit, ...file.inherited]);
        const sd = new Uint8Array(20 + acl.length);
        const dv = new DataView(sd.buffer);
        sd[0] = 1;
        dv.setUint16(
          2,
          0x8000 | 0x0400 | 0x0004 | (file.protected ? 0x1000 : 0),
          true,
        );
        dv.setUint32(16, acl.length ? 20 : 0, true);
        sd.set(acl, 20);
        const block = k.localHeap.alloc(sd, "GetNamedSecurityInfoW");
        writeAddress(descriptor, block.address);
        writeAddress(dacl, acl.length ? block.address + 20n : 0n);
        return 0;
      },

      SetEntriesInAclW: (count, entries, oldAcl, newAcl) => {
        const injected = this.#inject("SetEntriesInAclW");
        if (injected !== undefined) return injected;
        let aces: FakeAce[] = [];
        if (oldAcl !== null) {
          const decoded = decodeAcl(readAclBytes(oldAcl));
          if (!decoded) return CODES.ERROR_INVALID_ACL;
          aces = decoded;
        }
        const ea = view(at(entries));
        for (let i = 0; i < count; i++) {
          const base = i * EA.size;
          if (
            ea.getBigUint64(base + EA.pMultiple) !== 0n ||
            ea.getUint32(base + EA.multipleOp) !== 0
          ) {
            return ERROR_INVALID_PARAMETER;
          }
          const form = ea.getUint32(base + EA.form);
          if (form !== 0) {
            throw new Error("fake: only TRUSTEE_IS_SID is modelled");
          }
          const sidBytesRead = readSid(
            pointerAt(ea.getBigUint64(base + EA.name)),
          );
          const sid = sidBytesRead && sidString(sidBytesRead);
          if (!sid) return CODES.ERROR_INVALID_SID;
          const entry: FakeExplicitAccess = {
            mask: ea.getUint32(base + EA.perms),
            mode: ea.getUint32(base + EA.mode),
            inheritance: ea.getUint32(base + EA.inheritance),
            form,
            trusteeType: ea.getUint32(base + EA.type),
            sid,
          };
          this.explicitAccess.push(entry);
          const flags = entry.inheritance & 0x0f;
          const explicit = (a: FakeAce) => !(a.flags & 0x10) && a.sid === sid;
          if (entry.mode === 3) {
            const same = aces.find((a) =>
              a.type === 1 && explicit(a) && a.flags === flags
            );
            if (same) same.mask = (same.mask | entry.mask) >>> 0;
            else aces.unshift({ type: 1, flags, mask: entry.mask, sid });
          } else if (entry.mode === 4) {
            // As documented: allowed ACEs (and audit ones) only.
            aces = aces.filter((a) => !(a.type === 0 && explicit(a)));
          } else if (entry.mode === 2) {
            // SET_ACCESS: an allowed ACE replacing the trustee's explicit ones.
            aces = aces.filter((a) => !explicit(a));
            aces.push({ type: 0, flags, mask: entry.mask, sid });
          } else {
            throw new Error(`fake: ACCESS_MODE ${entry.mode} not modelled`);
          }
        }
        writeAddress(
          newAcl,
          k.localHeap.alloc(encodeAcl(aces), "SetEntriesInAclW").address,
        );
        return 0;
      },

      SetNamedSecurityInfoW: async (
        name,
        type,
        info,
        owner,
        group,
        dacl,
        sacl,
      ) => {
        const injected = this.#inject("SetNamedSecurityInfoW");
        const path = (wstrArg(name) ?? "").toLowerCase();
        // Read the ACL before yielding: the caller's memory is valid during the call.
        const bytes = dacl === null ? null : readAclBytes(dacl);
        await offThread();
        if (injected !== undefined) return injected;
        if (
          type !== 1 || !(info & 4) || owner !== null || group !== null ||
          sacl !== null
        ) {
          return ERROR_INVALID_PARAMETER;
        }
        const protect = (info & 0x80000000) !== 0;
        const unprotect = (info & 0x20000000) !== 0;
        if (protect && unprotect) return ERROR_INVALID_PARAMETER;
        const file = this.files.get(path);
        if (!file) return CODES.ERROR_FILE_NOT_FOUND;
        const aces = bytes === null ? null : decodeAcl(bytes);
        if (aces === undefined) return CODES.ERROR_INVALID_ACL;
        this.securityWrites.push({ path, info });
        if (protect) file.protected = true;
        if (unprotect) file.protected = false;
        // Inherited ACEs passed in are dropped and re-derived from the parent.
        file.explicit = aces === null
          ? null
          : aces.filter((a) => !(a.flags & 0x10));
        if (file.protected) file.inherited = [];
        this.#propagate(path);
        return 0;
      },

      RegLoadKeyW: async (hkey, subkey, file) => {
        const injected = this.#inject("RegLoadKeyW");
        const address = addressOfPointer(hkey);
        const name = wstrArg(subkey) ?? "";
        const path = wstrArg(file) ?? "";
        await offThread();
        if (injected !== undefined) return injected;
        const root = this.roots.get(address);
        if (!root) {
          return address === 0x80000003n || address === 0x80000002n
            ? ERROR_INVALID_HANDLE // zero-extended: not the SDK's value
            : ERROR_INVALID_PARAMETER;
        }
        if (!this.#privilegesForHives()) return CODES.ERROR_PRIVILEGE_NOT_HELD;
        if (!name || name.includes("\\")) return ERROR_INVALID_PARAMETER;
        if (root.subkeys.has(name.toLowerCase())) {
          return CODES.ERROR_ALREADY_EXISTS;
        }
        for (const top of root.subkeys.values()) {
          if (top.hiveFile?.toLowerCase() === path.toLowerCase()) {
            return CODES.ERROR_SHARING_VIOLATION;
          }
        }
        if (!this.hiveFiles.has(path.toLowerCase())) {
          this.createdHiveFiles.push(path);
        }
        const hive = this.hiveFile(path);
        hive.name = name;
        root.subkeys.set(name.toLowerCase(), hive);
        return 0;
      },

      RegUnLoadKeyW: async (hkey, subkey) => {
        const injected = this.#inject("RegUnLoadKeyW");
        const root = this.roots.get(addressOfPointer(hkey));
        const name = (wstrArg(subkey) ?? "").toLowerCase();
        await offThread();
        if (injected !== undefined) return injected;
        if (!root) return ERROR_INVALID_HANDLE;
        if (!this.#privilegesForHives()) return CODES.ERROR_PRIVILEGE_NOT_HELD;
        const hive = root.subkeys.get(name);
        if (!hive) return CODES.ERROR_FILE_NOT_FOUND;
        if (hive.hiveFile === undefined) return ERROR_INVALID_PARAMETER;
        const open = k.handles("hkey").some((h) =>
          !h.closed && h.data.hive === hive
        );
        if (open) return ERROR_ACCESS_DENIED;
        root.subkeys.delete(name);
        return 0;
      },

      RegOpenKeyExW: (hkey, subkey, options, _sam, result) => {
        const injected = this.#inject("RegOpenKeyExW");
        if (injected !== undefined) return injected;
        const base = this.#hkey(hkey);
        if (!base) return ERROR_INVALID_HANDLE;
        if (options !== 0) return ERROR_INVALID_PARAMETER;
        const key = base.key.find(wstrArg(subkey) ?? "");
        if (!key) return CODES.ERROR_FILE_NOT_FOUND;
        const handle = k.createHandle("hkey", { key, hive: this.#hiveOf(key) });
        writeAddress(result, addressOfPointer(handle));
        return 0;
      },

      RegGetValueW: (hkey, subkey, valueName, flags, type, data, size) => {
        const injected = this.#inject("RegGetValueW");
        if (injected !== undefined) return injected;
        const base = this.#hkey(hkey);
        if (!base) return ERROR_INVALID_HANDLE;
        const types = flags & RRF_RT_ANY;
        const noExpand = (flags & RRF_NOEXPAND) !== 0;
        // winreg.h: RRF_RT_REG_EXPAND_SZ is refused without RRF_NOEXPAND.
        if (
          !types ||
          (types & RRF_TYPE_BITS[2] && !noExpand && types !== RRF_RT_ANY)
        ) {
          return ERROR_INVALID_PARAMETER;
        }
        if (data !== null && size === null) return ERROR_INVALID_PARAMETER;
        const key = base.key.find(wstrArg(subkey) ?? "");
        const value = key?.values.get((wstrArg(valueName) ?? "").toLowerCase());
        if (!value) return CODES.ERROR_FILE_NOT_FOUND;
        if (value.type === 2 && !noExpand) {
          throw new Error("fake: RegGetValueW's own expansion is not modelled");
        }
        if (!(types & (RRF_TYPE_BITS[value.type] ?? 0))) {
          return CODES.ERROR_UNSUPPORTED_TYPE;
        }
        if (type !== null) writeU32(type, value.type);
        // A string stored without its NUL comes back with one.
        const stringType = value.type === 1 || value.type === 2;
        const n = value.data.byteLength;
        const terminated = !stringType ||
          (n >= 2 && value.data[n - 1] === 0 && value.data[n - 2] === 0);
        const bytes = terminated
          ? value.data
          : Uint8Array.from([...value.data, 0, 0]);
        if (size === null) return 0;
        if (data === null) {
          writeU32(size, bytes.byteLength);
          return 0;
        }
        const capacity = readU32(size);
        const out = bufferBytes(data);
        if (capacity > out.byteLength) {
          throw new Error(
            `fake: *pcbData says ${capacity} bytes, the buffer has ${out.byteLength}`,
          );
        }
        writeU32(size, bytes.byteLength);
        if (capacity < bytes.byteLength) return CODES.ERROR_MORE_DATA;
        out.set(bytes);
        return 0;
      },

      RegCreateKeyExW: (
        hkey,
        subkey,
        reserved,
        keyClass,
        options,
        _sam,
        security,
        result,
        disposition,
      ) => {
        const injected = this.#inject("RegCreateKeyExW");
        if (injected !== undefined) return injected;
        const base = this.#hkey(hkey);
        if (!base) return ERROR_INVALID_HANDLE;
        if (
          reserved !== 0 || keyClass !== null || options !== 0 ||
          security !== null
        ) {
          return ERROR_INVALID_PARAMETER;
        }
        const parts = (wstrArg(subkey) ?? "").split("\\");
        let key = base.key;
        let created = false;
        for (const [i, part] of parts.entries()) {
          let next = key.subkeys.get(part.toLowerCase());
          if (!next) {
            // Keys directly under HKLM / HKU are hives: not creatable.
            if (i === 0 && base.root !== undefined) return ERROR_ACCESS_DENIED;
            next = new FakeKey(part);
            key.subkeys.set(part.toLowerCase(), next);
            created = true;
          }
          key = next;
        }
        const handle = k.createHandle("hkey", { key, hive: this.#hiveOf(key) });
        writeAddress(result, addressOfPointer(handle));
        if (disposition !== null) writeU32(disposition, created ? 1 : 2);
        return 0;
      },

      RegSetValueExW: (hkey, valueName, reserved, type, data, size) => {
        const injected = this.#inject("RegSetValueExW");
        if (injected !== undefined) return injected;
        const h = k.handle(hkey, "hkey");
        if (!h) return ERROR_INVALID_HANDLE;
        if (reserved !== 0) return ERROR_INVALID_PARAMETER;
        const bytes = new Uint8Array(size);
        if (size) view(at(data)).copyInto(bytes);
        if (
          (type === 1 || type === 2) &&
          (size < 2 || size % 2 || bytes[size - 1] || bytes[size - 2])
        ) {
          return ERROR_INVALID_PARAMETER; // cbData must count the NUL
        }
        if (type === 4 && size !== 4) return ERROR_INVALID_PARAMETER;
        const name = wstrArg(valueName) ?? "";
        (h.data.key as FakeKey).values.set(name.toLowerCase(), {
          name,
          type,
          data: bytes,
        });
        return 0;
      },

      RegDeleteValueW: (hkey, valueName) => {
        const injected = this.#inject("RegDeleteValueW");
        if (injected !== undefined) return injected;
        const h = k.handle(hkey, "hkey");
        if (!h) return ERROR_INVALID_HANDLE;
        const deleted = (h.data.key as FakeKey).values.delete(
          (wstrArg(valueName) ?? "").toLowerCase(),
        );
        return deleted ? 0 : CODES.ERROR_FILE_NOT_FOUND;
      },

      RegDeleteTreeW: (hkey, subkey) => {
        const injected = this.#inject("RegDeleteTreeW");
        if (injected !== undefined) return injected;
        const base = this.#hkey(hkey);
        if (!base) return ERROR_INVALID_HANDLE;
        const path = wstrArg(subkey);
        if (path === null) {
          base.key.subkeys.clear();
          base.key.values.clear();
          return 0;
        }
        const parts = path.split("\\");
        const leaf = parts.pop()!.toLowerCase();
        const parent = base.key.find(parts.join("\\"));
        const target = parent?.subkeys.get(leaf);
        if (!parent || !target) return CODES.ERROR_FILE_NOT_FOUND;
        if (target.hiveFile !== undefined) return ERROR_ACCESS_DENIED;
        parent.subkeys.delete(leaf);
        return 0;
      },

      RegCloseKey: (hkey) => {
        this.calls.push("RegCloseKey");
        if (this.roots.has(addressOfPointer(hkey))) return 0;
        const h = k.handle(hkey, "hkey");
        if (!h) return ERROR_INVALID_HANDLE;
        h.closed = true;
        return 0;
      },
    };
  }
}
