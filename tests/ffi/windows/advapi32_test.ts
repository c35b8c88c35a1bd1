/**
 * Tests for `ffi/windows/advapi32.ts` against the SDK (struct sizes and
 * offsets, constants, which calls are `nonblocking`), the Windows
 * command-line quoting rules, and every wrapper's success and failure paths
 * over the fake advapi32 (tests/support/windows/fake_advapi32.ts), which
 * reads the structs and strings the wrapper passes from real memory and
 * checks that what it hands out is freed exactly once.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  ACCESS_ACE,
  ACE_HEADER,
  ACL,
  ADMINISTRATORS_SID,
  Advapi32,
  ADVAPI32_SYMBOLS,
  CREATE_NEW_PROCESS_GROUP,
  CREATE_NO_WINDOW,
  CREATE_UNICODE_ENVIRONMENT,
  DACL_SECURITY_INFORMATION,
  DENY_ACCESS,
  DENY_MASKS,
  denyMask,
  EXPLICIT_ACCESS_W,
  FILE_ALL_ACCESS,
  FILE_GENERIC_EXECUTE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_RIGHTS,
  HKEY_LOCAL_MACHINE,
  HKEY_USERS,
  KEY_READ,
  KEY_WRITE,
  LOCAL_SYSTEM_SID,
  LOGON32_LOGON_INTERACTIVE,
  LOGON32_LOGON_NETWORK,
  LUID,
  LUID_AND_ATTRIBUTES,
  NO_INHERITANCE,
  parseAcl,
  parseTokenPrivileges,
  PROCESS_INFORMATION,
  PROTECTED_DACL_SECURITY_INFORMATION,
  quoteArgument,
  quoteCommandLine,
  REG_DWORD,
  REG_EXPAND_SZ,
  REG_SZ,
  REMOTE_DESKTOP_USERS_SID,
  REVOKE_ACCESS,
  RRF_NOEXPAND,
  RRF_RT_REG_EXPAND_SZ,
  RRF_RT_REG_SZ,
  SE_ASSIGNPRIMARYTOKEN_NAME,
  SE_BACKUP_NAME,
  SE_FILE_OBJECT,
  SE_INCREASE_QUOTA_NAME,
  SE_PRIVILEGE_ENABLED,
  SE_RESTORE_NAME,
  SE_TCB_NAME,
  SET_ACCESS,
  STARTUPINFOW,
  SUB_CONTAINERS_AND_OBJECTS_INHERIT,
  TOKEN_PRIVILEGES,
  TOKEN_PRIVILEGES_CLASS,
  TRUSTEE_IS_GROUP,
  TRUSTEE_IS_SID,
  TRUSTEE_IS_USER,
  TRUSTEE_IS_WELL_KNOWN_GROUP,
  TRUSTEE_W,
  UNPROTECTED_DACL_SECURITY_INFORMATION,
} from "../../../ffi/windows/advapi32.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import { addressOfPointer, pointerAt } from "../../../ffi/windows/struct.ts";
import { wide, wideList } from "../../../ffi/windows/strings.ts";
import {
  encodeAcl as fakeEncodeAcl,
  type FakeAce,
  FakeAdvapi32,
  FakeKey,
  HKLM,
  HKU,
} from "../../support/windows/fake_advapi32.ts";
import { FakeKernel32 } from "../../support/windows/fake_kernel32.ts";

const USER_SID = "S-1-5-21-1000-2000-3000-1001";
const ADMINS = "S-1-5-32-544";
const USERS = "S-1-5-32-545";

function setup() {
  const kernel = new FakeKernel32();
  const fake = new FakeAdvapi32(kernel);
  fake.addUser("ws1", { sid: USER_SID, password: "S3cret!pw" });
  const advapi = new Advapi32(fake.symbols, new Kernel32(kernel.symbols));
  return { kernel, fake, advapi };
}

function count(calls: string[], fn: string): number {
  return calls.filter((c) => c === fn).length;
}

// --- Layouts, constants, symbols --------------------------------------------

Deno.test("struct layouts match the x64 SDK", () => {
  assertEquals([LUID.size, LUID.offsets], [8, { LowPart: 0, HighPart: 4 }]);
  assertEquals([LUID_AND_ATTRIBUTES.size, LUID_AND_ATTRIBUTES.align], [12, 4]);
  assertEquals(LUID_AND_ATTRIBUTES.offsets, { Luid: 0, Attributes: 8 });
  // TOKEN_PRIVILEGES with ANYSIZE_ARRAY = 1.
  assertEquals(TOKEN_PRIVILEGES.size, 16);
  assertEquals(TOKEN_PRIVILEGES.offsets, { PrivilegeCount: 0, Privileges: 4 });
  assertEquals(STARTUPINFOW.size, 104);
  assertEquals(STARTUPINFOW.offsets, {
    cb: 0,
    lpReserved: 8,
    lpDesktop: 16,
    lpTitle: 24,
    dwX: 32,
    dwY: 36,
    dwXSize: 40,
    dwYSize: 44,
    dwXCountChars: 48,
    dwYCountChars: 52,
    dwFillAttribute: 56,
    dwFlags: 60,
    wShowWindow: 64,
    cbReserved2: 66,
    lpReserved2: 72,
    hStdInput: 80,
    hStdOutput: 88,
    hStdError: 96,
  });
  assertEquals(PROCESS_INFORMATION.size, 24);
  assertEquals(PROCESS_INFORMATION.offsets, {
    hProcess: 0,
    hThread: 8,
    dwProcessId: 16,
    dwThreadId: 20,
  });
  assertEquals(TRUSTEE_W.size, 32);
  assertEquals(TRUSTEE_W.offsets, {
    pMultipleTrustee: 0,
    MultipleTrusteeOperation: 8,
    TrusteeForm: 12,
    TrusteeType: 16,
    ptstrName: 24,
  });
  assertEquals(EXPLICIT_ACCESS_W.size, 48);
  assertEquals(EXPLICIT_ACCESS_W.offsets, {
    grfAccessPermissions: 0,
    grfAccessMode: 4,
    grfInheritance: 8,
    Trustee: 16,
  });
  assertEquals([ACL.size, ACL.offsets], [8, {
    AclRevision: 0,
    Sbz1: 1,
    AclSize: 2,
    AceCount: 4,
    Sbz2: 6,
  }]);
  assertEquals(ACE_HEADER.size, 4);
  assertEquals([ACCESS_ACE.offsets.Mask, ACCESS_ACE.offsets.SidStart], [4, 8]);
});

Deno.test("constants are the SDK's", () => {
  // winreg.h: (HKEY)(ULONG_PTR)((LONG)0x8000000x), sign-extended on 64-bit.
  assertEquals(HKEY_USERS, 0xffffffff80000003n);
  assertEquals(HKEY_LOCAL_MACHINE, 0xffffffff80000002n);
  assertEquals(HKEY_USERS, BigInt.asUintN(64, BigInt(0x80000003 | 0)));
  assertEquals(addressOfPointer(pointerAt(HKEY_USERS)), 0xffffffff80000003n);
  assertEquals([LOGON32_LOGON_INTERACTIVE, LOGON32_LOGON_NETWORK], [2, 3]);
  assertEquals(
    [CREATE_NEW_PROCESS_GROUP, CREATE_UNICODE_ENVIRONMENT, CREATE_NO_WINDOW],
    [0x200, 0x400, 0x08000000],
  );
  assertEquals([SE_FILE_OBJECT, DACL_SECURITY_INFORMATION], [1, 4]);
  assertEquals(
    [
      PROTECTED_DACL_SECURITY_INFORMATION,
      UNPROTECTED_DACL_SECURITY_INFORMATION,
    ],
    [0x80000000, 0x20000000],
  );
  assertEquals([SET_ACCESS, DENY_ACCESS, REVOKE_ACCESS], [2, 3, 4]);
  assertEquals([NO_INHERITANCE, SUB_CONTAINERS_AND_OBJECTS_INHERIT], [0, 3]);
  assertEquals([TRUSTEE_IS_SID, TRUSTEE_IS_USER], [0, 1]);
  assertEquals([TRUSTEE_IS_GROUP, TRUSTEE_IS_WELL_KNOWN_GROUP], [2, 5]);
  // winnt.h: TokenPrivileges is the third TOKEN_INFORMATION_CLASS value.
  assertEquals([TOKEN_PRIVILEGES_CLASS, SE_PRIVILEGE_ENABLED], [3, 2]);
  assertEquals([LOCAL_SYSTEM_SID, ADMINISTRATORS_SID], [
    "S-1-5-18",
    "S-1-5-32-544",
  ]);
  assertEquals([REG_SZ, REG_EXPAND_SZ, REG_DWORD], [1, 2, 4]);
  assertEquals([KEY_READ, KEY_WRITE], [0x20019, 0x20006]);
  assertEquals(
    [RRF_RT_REG_SZ, RRF_RT_REG_EXPAND_SZ, RRF_NOEXPAND],
    [0x2, 0x4, 0x10000000],
  );
  assertEquals(
    [SE_TCB_NAME, SE_ASSIGNPRIMARYTOKEN_NAME, SE_INCREASE_QUOTA_NAME],
    [
      "SeTcbPrivilege",
      "SeAssignPrimaryTokenPrivilege",
      "SeIncreaseQuotaPrivilege",
    ],
  );
  assertEquals([SE_BACKUP_NAME, SE_RESTORE_NAME], [
    "SeBackupPrivilege",
    "SeRestorePrivilege",
  ]);
  assertEquals(REMOTE_DESKTOP_USERS_SID, "S-1-5-32-555");
  // The generic file rights are what winnt.h composes them from.
  const r = FILE_RIGHTS;
  assertEquals(
    FILE_GENERIC_READ,
    r.READ_CONTROL | r.FILE_READ_DATA | r.FILE_READ_ATTRIBUTES |
      r.FILE_READ_EA | r.SYNCHRONIZE,
  );
  assertEquals(
    FILE_GENERIC_WRITE,
    r.READ_CONTROL | r.FILE_WRITE_DATA | r.FILE_WRITE_ATTRIBUTES |
      r.FILE_WRITE_EA | r.FILE_APPEND_DATA | r.SYNCHRONIZE,
  );
  assertEquals(
    FILE_GENERIC_EXECUTE,
    r.READ_CONTROL | r.FILE_READ_ATTRIBUTES | r.FILE_EXECUTE | r.SYNCHRONIZE,
  );
  // STANDARD_RIGHTS_REQUIRED (0xF0000) | SYNCHRONIZE | 0x1FF.
  assertEquals(FILE_ALL_ACCESS, 0xf0000 | r.SYNCHRONIZE | 0x1ff);
});

Deno.test("deny masks never deny the rights every open shares", () => {
  const shared = FILE_RIGHTS.SYNCHRONIZE | FILE_RIGHTS.READ_CONTROL |
    FILE_RIGHTS.FILE_READ_ATTRIBUTES;
  for (const mask of Object.values(DENY_MASKS)) assertEquals(mask & shared, 0);
  // Each generic right's own bits are covered.
  assertEquals(DENY_MASKS.read & FILE_GENERIC_READ & ~shared, 0x9);
  assertEquals(FILE_GENERIC_WRITE & ~shared & ~DENY_MASKS.write, 0);
  assertEquals(FILE_GENERIC_EXECUTE & ~shared & ~DENY_MASKS.execute, 0);
  // "write" also keeps the user from deleting or re-permissioning.
  assertEquals(denyMask(["write"]) & 0xd0040, 0xd0040);
  assertEquals(denyMask(["read", "write", "execute"]), 0xd017f);
  assertThrows(() => denyMask([]), TypeError, /at least one/);
  assertThrows(
    () => denyMask(["delete" as "read"]),
    TypeError,
    /unknown right "delete"/,
  );
});

Deno.test("the nonblocking set and parameter counts", () => {
  const nonblocking = Object.entries(ADVAPI32_SYMBOLS)
    .filter(([, s]) => "nonblocking" in s && s.nonblocking)
    .map(([name]) => name)
    .sort();
  assertEquals(nonblocking, [
    "LogonUserW",
    "RegLoadKeyW",
    "RegUnLoadKeyW",
    "SetNamedSecurityInfoW",
  ]);
  const arity = (name: keyof typeof ADVAPI32_SYMBOLS) =>
    ADVAPI32_SYMBOLS[name].parameters.length;
  assertEquals(arity("CreateProcessAsUserW"), 11);
  assertEquals(arity("LogonUserW"), 6);
  assertEquals(arity("AdjustTokenPrivileges"), 6);
  assertEquals(ADVAPI32_SYMBOLS.GetTokenInformation.parameters, [
    "pointer",
    "u32",
    "buffer",
    "u32",
    "buffer",
  ]);
  assertEquals(arity("LookupAccountSidW"), 7);
  assertEquals(arity("LookupAccountNameW"), 7);
  assertEquals(arity("GetNamedSecurityInfoW"), 8);
  assertEquals(arity("SetEntriesInAclW"), 4);
  assertEquals(arity("SetNamedSecurityInfoW"), 7);
  assertEquals(arity("RegCreateKeyExW"), 9);
  assertEquals(arity("RegSetValueExW"), 6);
  assertEquals(arity("RegOpenKeyExW"), 5);
  assertEquals(arity("RegGetValueW"), 7);
  // LSTATUS / DWORD statuses come back as results, BOOLs as i32.
  assertEquals(ADVAPI32_SYMBOLS.RegLoadKeyW.result, "i32");
  assertEquals(ADVAPI32_SYMBOLS.SetNamedSecurityInfoW.result, "u32");
  assertEquals(ADVAPI32_SYMBOLS.GetNamedSecurityInfoW.result, "u32");
});

// --- Command lines ------------------------------------------------------------

/**
 * The MSVC runtime's (2008+) and CommandLineToArgvW's parse: argv[0] up to
 * the closing quote with no escapes; then 2n backslashes + quote give n
 * backslashes and toggle quoting, 2n+1 give n and a literal quote, `""`
 * inside quotes a literal quote.
 */
function parseCommandLine(line: string): string[] {
  let i = 0;
  let program = "";
  let quoted = false;
  while (i < line.length) {
    const c = line[i++];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === " " || c === "\t")) break;
    else program += c;
  }
  const out = [program];
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) return out;
    let arg = "";
    quoted = false;
    while (i < line.length) {
      const c = line[i];
      if (!quoted && (c === " " || c === "\t")) break;
      if (c === "\\") {
        let n = 0;
        while (line[i] === "\\") n++, i++;
        if (line[i] === '"') {
          arg += "\\".repeat(n >> 1);
          if (n % 2) arg += '"', i++;
        } else arg += "\\".repeat(n);
      } else if (c === '"') {
        if (quoted && line[i + 1] === '"') arg += '"', i += 2;
        else quoted = !quoted, i++;
      } else arg += c, i++;
    }
    out.push(arg);
  }
}

Deno.test("quoteArgument follows the Windows rules exactly", () => {
  const cases: Array<[string, string]> = [
    ["plain", "plain"],
    ["", '""'],
    ["two words", '"two words"'],
    ["tab\there", '"tab\there"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['"', '"\\""'],
    ["a\\b", "a\\b"], // backslashes alone are literal
    ["a\\\\b", "a\\\\b"],
    ["\\", "\\"],
    ["C:\\dir with space\\", '"C:\\dir with space\\\\"'], // doubled before the closing quote
    ["C:\\two\\\\", "C:\\two\\\\"], // no quoting needed, left alone
    ['a\\"b', '"a\\\\\\"b"'], // 1 backslash + quote → 3 + quote
    ['a\\\\"b', '"a\\\\\\\\\\"b"'], // 2 + quote → 5 + quote
    ["new\nline", '"new\nline"'],
  ];
  for (const [arg, quoted] of cases) {
    assertEquals(quoteArgument(arg), quoted, JSON.stringify(arg));
    assertEquals(parseCommandLine(`p ${quoted}`), ["p", arg], quoted);
  }
  assertThrows(() => quoteArgument("a\0b"), TypeError, /NUL/);
});

Deno.test("quoteCommandLine: argv[0] plainly quoted, the rest escaped", () => {
  assertEquals(
    quoteCommandLine([
      "C:\\Program Files\\webstream\\webstream.exe",
      "-streamer",
      "",
      'x "y"\\',
    ]),
    '"C:\\Program Files\\webstream\\webstream.exe" -streamer "" "x \\"y\\"\\\\"',
  );
  assertEquals(quoteCommandLine(["cmd.exe", "/c", "dir"]), "cmd.exe /c dir");
  // A trailing backslash in argv[0] needs no escaping: its rule has none.
  assertEquals(
    parseCommandLine(quoteCommandLine(["C:\\a b\\", "z"])),
    ["C:\\a b\\", "z"],
  );
  assertThrows(() => quoteCommandLine([]), TypeError, /program is missing/);
  assertThrows(() => quoteCommandLine([""]), TypeError, /argv\[0\]/);
  assertThrows(() => quoteCommandLine(['a"b.exe']), TypeError, /argv\[0\]/);
  assertThrows(
    () => quoteCommandLine(["a.exe", "x".repeat(32767)]),
    RangeError,
    /Windows allows 32766/,
  );
});

Deno.test("quoted command lines parse back to the same argv", () => {
  // A deterministic generator over the characters that matter.
  const alphabet = ["a", "b", " ", "\t", '"', "\\", "\\", "é", "/", "-"];
  let seed = 12345;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const args = Array.from(
      { length: 1 + next(4) },
      () =>
        Array.from({ length: next(8) }, () => alphabet[next(alphabet.length)])
          .join(""),
    );
    const argv = ["C:\\Program Files\\p.exe", ...args];
    assertEquals(
      parseCommandLine(quoteCommandLine(argv)),
      argv,
      argv.join("|"),
    );
  }
});

// --- Logon and processes ------------------------------------------------------

Deno.test("logonUser returns a token and wipes the password buffer", async () => {
  const { kernel, fake, advapi } = setup();
  const token = await advapi.logonUser("ws1", "S3cret!pw");
  const handle = kernel.handle(token, "token");
  assertEquals(handle?.data.user, "ws1");
  assertEquals(handle?.data.primary, true);
  assert(fake.lastPassword?.every((b) => b === 0), "password left in memory");
  const qualified = await advapi.logonUser("WSHOST\\ws1", "S3cret!pw");
  assert(kernel.handle(qualified, "token"));
  const network = await advapi.logonUser("ws1", "S3cret!pw", {
    type: "network",
  });
  assertEquals(kernel.handle(network, "token")?.data.primary, false);
});

Deno.test("a failed logonUser has no code: it ran off the event loop", async () => {
  const { kernel, advapi } = setup();
  const error = await assertRejects(
    () => advapi.logonUser("ws1", "wrong"),
    Win32Error,
    /LogonUserW failed \(its error code is not readable.*\(ws1\)/,
  );
  assertEquals((error as Win32Error).code, undefined);
  assertEquals(kernel.getLastErrorCalls, 0);
  assertEquals(kernel.poolLastError, 1326); // where Windows would have put it
  // A UPN goes to the domain (no lpszDomain).
  await assertRejects(
    () => advapi.logonUser("ws1@corp.example", "x"),
    Win32Error,
  );
  assertEquals(kernel.poolLastError, 1311);
});

Deno.test("logonUser validates account names", async () => {
  const { advapi } = setup();
  await assertRejects(
    () => advapi.logonUser("a".repeat(21), "x"),
    TypeError,
    /1–20 characters/,
  );
  await assertRejects(() => advapi.logonUser("a/b", "x"), TypeError);
  await assertRejects(() => advapi.logonUser("A\\b\\c", "x"), TypeError);
  await assertRejects(() => advapi.logonUser("\\b", "x"), TypeError);
  await assertRejects(() => advapi.logonUser("ws1", "p\0w"), TypeError, /NUL/);
});

Deno.test("createProcessAsUser passes STARTUPINFOW, command line and environment", async () => {
  const { kernel, fake, advapi } = setup();
  const token = await advapi.logonUser("ws1", "S3cret!pw");
  const environment = wideList(["PATH=C:\\Windows", "WEBSTREAM_SLOT=3"]);
  const started = advapi.createProcessAsUser(token, {
    argv: [
      "C:\\Program Files\\webstream\\webstream.exe",
      "-streamer",
      "--name",
      "slot 3",
    ],
    cwd: "C:\\Users\\ws1",
    environment: Deno.UnsafePointer.of(environment),
  });
  assertEquals(fake.launches.length, 1);
  const launch = fake.launches[0];
  assertEquals(launch, {
    pid: started.pid,
    user: "ws1",
    application: "C:\\Program Files\\webstream\\webstream.exe",
    commandLine:
      '"C:\\Program Files\\webstream\\webstream.exe" -streamer --name "slot 3"',
    flags: CREATE_UNICODE_ENVIRONMENT | CREATE_NEW_PROCESS_GROUP |
      CREATE_NO_WINDOW,
    inheritHandles: 0,
    environment: ["PATH=C:\\Windows", "WEBSTREAM_SLOT=3"],
    cwd: "C:\\Users\\ws1",
    desktop: "winsta0\\default",
    startupFlags: 0,
    showWindow: 0,
  });
  // The process handle is the caller's; the thread handle is closed.
  assertEquals(
    kernel.handle(started.processHandle, "process")?.data.pid,
    started.pid,
  );
  assert(kernel.handles("thread").every((h) => h.closed));
});

Deno.test("createProcessAsUser options: no application for a bare name, a byte block, flags off", async () => {
  const { fake, advapi } = setup();
  const token = await advapi.logonUser("ws1", "S3cret!pw");
  advapi.createProcessAsUser(token, {
    argv: ["cmd.exe", "/c", "echo hi"],
    environment: wideList(["A=1"]),
    desktop: "winsta0\\other",
    newProcessGroup: false,
    noWindow: false,
  });
  const launch = fake.launches[0];
  assertEquals(launch.application, null);
  assertEquals(launch.commandLine, 'cmd.exe /c "echo hi"');
  assertEquals(launch.flags, CREATE_UNICODE_ENVIRONMENT);
  assertEquals(launch.environment, ["A=1"]);
  assertEquals(launch.desktop, "winsta0\\other");
  assertEquals(launch.cwd, null);
  advapi.createProcessAsUser(token, { argv: ["C:\\w.exe"] });
  assertEquals(
    fake.launches[1].flags,
    CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
  );
  assertEquals(fake.launches[1].environment, null);
  assertThrows(
    () =>
      advapi.createProcessAsUser(token, {
        argv: ["C:\\w.exe"],
        environment: wide("A=1"), // one NUL only
      }),
    TypeError,
    /two NULs/,
  );
  assertThrows(
    () =>
      advapi.createProcessAsUser(token, {
        argv: ["C:\\w.exe"],
        cwd: "C:\\a\0",
      }),
    TypeError,
    /cwd/,
  );
});

Deno.test("createProcessAsUser failures carry their last-error code", async () => {
  const { kernel, fake, advapi } = setup();
  const token = await advapi.logonUser("ws1", "S3cret!pw");
  fake.failNext.set("CreateProcessAsUserW", 1314);
  assertThrows(
    () => advapi.createProcessAsUser(token, { argv: ["C:\\w.exe"] }),
    Win32Error,
    /^CreateProcessAsUserW failed: ERROR_PRIVILEGE_NOT_HELD \(1314\) \(C:\\w\.exe\)$/,
  );
  assertEquals(kernel.handles("process").length, 0);
  // A network logon's impersonation token cannot start processes.
  const network = await advapi.logonUser("ws1", "S3cret!pw", {
    type: "network",
  });
  assertThrows(
    () => advapi.createProcessAsUser(network, { argv: ["C:\\w.exe"] }),
    Win32Error,
    /ERROR_BAD_TOKEN_TYPE \(1349\)/,
  );
  new Kernel32(kernel.symbols).closeHandle(token);
  assertThrows(
    () => advapi.createProcessAsUser(token, { argv: ["C:\\w.exe"] }),
    Win32Error,
    /ERROR_INVALID_HANDLE \(6\)/,
  );
  assertThrows(
    () => advapi.createProcessAsUser(null, { argv: ["C:\\w.exe"] }),
    TypeError,
  );
});

// --- Privileges ---------------------------------------------------------------

Deno.test("enablePrivilege enables it and closes the process token", () => {
  const { kernel, fake, advapi } = setup();
  advapi.enablePrivilege(SE_TCB_NAME);
  advapi.enablePrivilege(SE_INCREASE_QUOTA_NAME);
  assert(fake.enabled.has("setcbprivilege"));
  assert(fake.enabled.has("seincreasequotaprivilege"));
  kernel.assertAllClosed("token");
  assertEquals(kernel.handles("token")[0].data.access, 0x28);
});

Deno.test("enablePrivilege treats ERROR_NOT_ALL_ASSIGNED as the failure it is", () => {
  const { kernel, fake, advapi } = setup();
  fake.held.delete("setcbprivilege");
  const error = assertThrows(
    () => advapi.enablePrivilege(SE_TCB_NAME),
    Win32Error,
    /^AdjustTokenPrivileges failed: ERROR_NOT_ALL_ASSIGNED \(1300\) \(SeTcbPrivilege\)$/,
  );
  assertEquals((error as Win32Error).code, 1300);
  assert(!fake.enabled.has("setcbprivilege"));
  kernel.assertAllClosed("token");
  assertThrows(
    () => advapi.enablePrivilege("SeMadeUpPrivilege"),
    Win32Error,
    /LookupPrivilegeValueW failed: ERROR_NO_SUCH_PRIVILEGE \(1313\)/,
  );
  fake.failNext.set("OpenProcessToken", 5);
  assertThrows(
    () => advapi.enablePrivilege(SE_BACKUP_NAME),
    Win32Error,
    /OpenProcessToken failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  assertThrows(
    () => advapi.enablePrivilege("tcb"),
    TypeError,
    /privilege name/,
  );
});

Deno.test("enablePrivilege does not trust the last error: it reads the token back", () => {
  const { kernel, fake, advapi } = setup();
  fake.held.delete("setcbprivilege");
  // Between AdjustTokenPrivileges and GetLastError the runtime may have
  // overwritten ERROR_NOT_ALL_ASSIGNED; here it reads 0.
  kernel.overwrittenLastError = 0;
  const error = assertThrows(
    () => advapi.enablePrivilege(SE_TCB_NAME),
    Win32Error,
    /^AdjustTokenPrivileges failed: ERROR_NOT_ALL_ASSIGNED \(1300\) \(SeTcbPrivilege\)$/,
  );
  assertEquals((error as Win32Error).code, 1300);
  // Held: enabled, confirmed from the TOKEN_PRIVILEGES read back, whose
  // size came from the length the first call returned.
  fake.calls.length = 0;
  advapi.enablePrivilege(SE_BACKUP_NAME);
  assert(fake.enabled.has("sebackupprivilege"));
  assertEquals(
    fake.calls.filter((c) => c.includes("Token")),
    [
      "OpenProcessToken",
      "AdjustTokenPrivileges",
      "GetTokenInformation",
      "GetTokenInformation",
    ],
  );
  kernel.assertAllClosed("token");
});

Deno.test("enablePrivilege: a privilege held but left disabled is refused", () => {
  const { kernel, fake, advapi } = setup();
  // AdjustTokenPrivileges says TRUE and sets no last error, enabling nothing.
  const quiet = new Advapi32({
    ...fake.symbols,
    AdjustTokenPrivileges: () => {
      kernel.lastError = 0;
      return 1;
    },
  }, new Kernel32(kernel.symbols));
  assertThrows(
    () => quiet.enablePrivilege(SE_RESTORE_NAME),
    Win32Error,
    /ERROR_NOT_ALL_ASSIGNED \(1300\) \(SeRestorePrivilege\)/,
  );
  // One enabled already (by default) passes the same check.
  quiet.enablePrivilege("SeChangeNotifyPrivilege");
  // GetTokenInformation failing for another reason reports its code.
  fake.failNext.set("GetTokenInformation", 5);
  assertThrows(
    () => advapi.enablePrivilege(SE_TCB_NAME),
    Win32Error,
    /^GetTokenInformation failed: ERROR_ACCESS_DENIED \(5\)$/,
  );
  kernel.assertAllClosed("token");
});

Deno.test("parseTokenPrivileges reads every LUID_AND_ATTRIBUTES and checks the count", () => {
  const bytes = new Uint8Array(4 + 12 * 2);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 2, true);
  view.setUint32(4, 7, true); // SeTcbPrivilege's LUID
  view.setUint32(12, 2, true); // enabled
  view.setUint32(16, 17, true);
  view.setUint32(24, 0, true);
  assertEquals(parseTokenPrivileges(bytes), [
    { luid: Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0), attributes: 2 },
    { luid: Uint8Array.of(17, 0, 0, 0, 0, 0, 0, 0), attributes: 0 },
  ]);
  view.setUint32(0, 3, true);
  assertThrows(() => parseTokenPrivileges(bytes), RangeError, /3 entries/);
  assertThrows(() => parseTokenPrivileges(new Uint8Array(2)), RangeError);
});

// --- SIDs and accounts ----------------------------------------------------------

Deno.test("sidFromString copies the SID and frees the system's exactly once", () => {
  const { kernel, fake, advapi } = setup();
  const sid = advapi.sidFromString(REMOTE_DESKTOP_USERS_SID);
  // Revision 1, 2 sub-authorities, NT authority 5, then 32 and 555 (LE).
  assertEquals([...sid], [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x2b, 2, 0, 0]);
  kernel.localHeap.assertAllFreed();
  assertEquals(kernel.localHeap.all().map((b) => b.frees), [1]);
  assertEquals(count(fake.calls, "GetLengthSid"), 1);
  assertEquals(advapi.sidToString(advapi.sidFromString("BA")), ADMINS);
  assertThrows(
    () => advapi.sidFromString("S-1-bogus"),
    Win32Error,
    /ConvertStringSidToSidW failed: ERROR_INVALID_SID \(1337\) \(S-1-bogus\)/,
  );
  assertThrows(() => advapi.sidFromString(""), TypeError);
  kernel.localHeap.assertAllFreed();
});

Deno.test("sidToString round-trips and frees the string", () => {
  const { kernel, advapi } = setup();
  for (const s of [USER_SID, "S-1-5-18", "S-1-1-0", "S-1-5-32-555"]) {
    assertEquals(advapi.sidToString(advapi.sidFromString(s)), s);
  }
  kernel.localHeap.assertAllFreed();
  assertEquals(kernel.localHeap.all().every((b) => b.frees === 1), true);
  assertThrows(() => advapi.sidToString(new Uint8Array([1, 2, 0])), TypeError);
  assertThrows(
    () => advapi.sidToString(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 5])),
    TypeError,
    /revision 2/,
  );
});

Deno.test("lookupSid resolves the localized Remote Desktop Users group", () => {
  const { fake, advapi } = setup();
  const rdu = advapi.sidFromString(REMOTE_DESKTOP_USERS_SID);
  assertEquals(advapi.lookupSid(rdu), {
    name: "Remotedesktopbenutzer",
    domain: "VORDEFINIERT",
    use: "alias",
  });
  assertEquals(count(fake.calls, "LookupAccountSidW"), 1);
  // Names longer than the first guess: retried with the sizes returned.
  fake.accounts.push({
    name: "G".repeat(100),
    domain: "D".repeat(70),
    sid: "S-1-5-21-9-9-9-5000",
    use: 2,
  });
  assertEquals(advapi.lookupSid(advapi.sidFromString("S-1-5-21-9-9-9-5000")), {
    name: "G".repeat(100),
    domain: "D".repeat(70),
    use: "group",
  });
  assertEquals(count(fake.calls, "LookupAccountSidW"), 3);
  assertThrows(
    () => advapi.lookupSid(advapi.sidFromString("S-1-5-21-1-1-1-1")),
    Win32Error,
    /LookupAccountSidW failed: ERROR_NONE_MAPPED \(1332\)/,
  );
});

Deno.test("the account lookups retry on the sizes returned, not on the last error", () => {
  const { kernel, fake, advapi } = setup();
  fake.accounts.push({
    name: "G".repeat(100),
    domain: "D".repeat(70),
    sid: "S-1-5-21-9-9-9-5000",
    use: 2,
  });
  const sid = advapi.sidFromString("S-1-5-21-9-9-9-5000");
  // ERROR_INSUFFICIENT_BUFFER overwritten before it could be read.
  kernel.overwrittenLastError = 0;
  assertEquals(advapi.lookupSid(sid).name, "G".repeat(100));
  assertEquals(count(fake.calls, "LookupAccountSidW"), 2);
  fake.accounts.push({
    name: "longdomainuser",
    domain: "X".repeat(90),
    sid: "S-1-5-21-7-7-7-7",
    use: 1,
  });
  assertEquals(advapi.lookupAccount("longdomainuser").domain, "X".repeat(90));
  assertEquals(count(fake.calls, "LookupAccountNameW"), 2);
  // A failure that wrote no larger size is not retried, whatever is read.
  kernel.overwrittenLastError = 122;
  assertThrows(
    () => advapi.lookupSid(advapi.sidFromString("S-1-5-21-1-1-1-1")),
    Win32Error,
    /^LookupAccountSidW failed/,
  );
  assertEquals(count(fake.calls, "LookupAccountSidW"), 3);
  assertThrows(
    () => advapi.lookupAccount("nobody"),
    Win32Error,
    /^LookupAccountNameW failed: .* \(nobody\)$/,
  );
  assertEquals(count(fake.calls, "LookupAccountNameW"), 3);
});

Deno.test("lookupAccount finds a pool account's SID", () => {
  const { kernel, fake, advapi } = setup();
  const account = advapi.lookupAccount("WSHOST\\ws1");
  assertEquals(account.sidString, USER_SID);
  assertEquals(account.sid.length, 28);
  assertEquals([account.domain, account.use], ["WSHOST", "user"]);
  assertEquals(advapi.lookupAccount("ws1").sidString, USER_SID);
  kernel.localHeap.assertAllFreed();
  fake.accounts.push({
    name: "longdomainuser",
    domain: "X".repeat(90),
    sid: "S-1-5-21-7-7-7-7",
    use: 1,
  });
  assertEquals(advapi.lookupAccount("longdomainuser").domain, "X".repeat(90));
  assertEquals(count(fake.calls, "LookupAccountNameW"), 4);
  assertThrows(
    () => advapi.lookupAccount("nobody"),
    Win32Error,
    /^LookupAccountNameW failed: ERROR_NONE_MAPPED \(1332\) \(nobody\)$/,
  );
  assertThrows(() => advapi.lookupAccount(""), TypeError);
});

// --- NTFS DENY ACEs ------------------------------------------------------------

function files(fake: FakeAdvapi32): void {
  const parentInherited: FakeAce = {
    type: 0,
    flags: 0x13,
    mask: 0x1200a9,
    sid: USERS,
    from: "c:\\",
  };
  fake.addFile("C:\\Secret", {
    directory: true,
    explicit: [{ type: 0, flags: 3, mask: 0x1f01ff, sid: ADMINS }],
    inherited: [parentInherited],
  });
  fake.addFile("C:\\Secret\\a.txt", {
    inherited: [{ ...parentInherited, flags: 0x10 }],
  });
  fake.addFile("C:\\Secret\\sub", { directory: true });
  fake.addFile("C:\\Locked", { protected: true });
}

Deno.test("denyAccess adds one DENY ACE through EXPLICIT_ACCESS_W and frees everything", async () => {
  const { kernel, fake, advapi } = setup();
  files(fake);
  const sid = advapi.sidFromString(USER_SID);
  const mask = denyMask(["read", "write"]);
  assertEquals(
    await advapi.denyAccess("C:\\Secret", sid, {
      deny: ["read", "write"],
      recursive: true,
    }),
    true,
  );
  assertEquals(fake.explicitAccess, [{
    mask,
    mode: DENY_ACCESS,
    inheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    form: TRUSTEE_IS_SID,
    trusteeType: TRUSTEE_IS_USER,
    sid: USER_SID,
  }]);
  // Explicit deny first, then the explicit allow, then what is inherited.
  const dacl = fake.dacl("C:\\Secret")!;
  assertEquals(dacl.map((a) => [a.type, a.flags, a.sid]), [
    [1, 3, USER_SID],
    [0, 3, ADMINS],
    [0, 0x13, USERS],
  ]);
  assertEquals(dacl[0].mask, mask);
  // Propagated to what exists below.
  assertEquals(
    fake.dacl("C:\\Secret\\a.txt")!.find((a) => a.sid === USER_SID)?.flags,
    0x10,
  );
  assertEquals(
    fake.dacl("C:\\Secret\\sub")!.find((a) => a.sid === USER_SID)?.flags,
    0x13,
  );
  assertEquals(fake.securityWrites, [{
    path: "c:\\secret",
    info: DACL_SECURITY_INFORMATION | UNPROTECTED_DACL_SECURITY_INFORMATION,
  }]);
  // The security descriptor, the new ACL and the SID: each freed once.
  kernel.localHeap.assertAllFreed();
  assertEquals(
    kernel.localHeap.all().map((b) => [b.what, b.frees]).sort(),
    [
      ["ConvertStringSidToSidW", 1],
      ["GetNamedSecurityInfoW", 1],
      ["SetEntriesInAclW", 1],
    ],
  );
});

Deno.test("denyAccess is idempotent and replaces an earlier restriction", async () => {
  const { fake, advapi } = setup();
  files(fake);
  const sid = advapi.sidFromString(USER_SID);
  const options = { deny: ["read", "write"] as const, recursive: true };
  await advapi.denyAccess("C:\\Secret", sid, options);
  assertEquals(await advapi.denyAccess("C:\\Secret", sid, options), false);
  assertEquals(fake.securityWrites.length, 1);
  // A different restriction replaces the old ACE rather than adding to it.
  assertEquals(
    await advapi.denyAccess("C:\\Secret", sid, { deny: ["execute"] }),
    true,
  );
  const ours = fake.dacl("C:\\Secret")!.filter((a) => a.sid === USER_SID);
  assertEquals(ours, [{ type: 1, flags: 0, mask: 0x20, sid: USER_SID }]);
  // Not inheritable any more: the children's copies are gone.
  assertEquals(
    fake.dacl("C:\\Secret\\a.txt")!.some((a) => a.sid === USER_SID),
    false,
  );
});

Deno.test("removeAccessEntries removes the trustee's explicit entries", async () => {
  const { kernel, fake, advapi } = setup();
  files(fake);
  const sid = advapi.sidFromString(USER_SID);
  await advapi.denyAccess("C:\\Secret", sid, {
    deny: ["write"],
    recursive: true,
  });
  assertEquals(await advapi.removeAccessEntries("C:\\Secret", sid), true);
  assertEquals(
    fake.dacl("C:\\Secret")!.map((a) => a.sid),
    [ADMINS, USERS],
  );
  assertEquals(
    fake.dacl("C:\\Secret\\sub")!.some((a) => a.sid === USER_SID),
    false,
  );
  assertEquals(await advapi.removeAccessEntries("C:\\Secret", sid), false);
  assertEquals(fake.securityWrites.length, 2);
  // Allowed entries go only when asked for.
  const admins = advapi.sidFromString(ADMINS);
  assertEquals(await advapi.removeAccessEntries("C:\\Secret", admins), false);
  assertEquals(
    await advapi.removeAccessEntries("C:\\Secret", admins, { allowed: true }),
    true,
  );
  assertEquals(fake.dacl("C:\\Secret")!.map((a) => a.sid), [USERS]);
  kernel.localHeap.assertAllFreed();
});

Deno.test("accessEntries reads the DACL; a protected DACL stays protected", async () => {
  const { kernel, fake, advapi } = setup();
  files(fake);
  const entries = advapi.accessEntries("C:\\Secret")!;
  assertEquals(entries.map((e) => [e.type, e.flags, e.mask]), [
    [0, 3, 0x1f01ff],
    [0, 0x13, 0x1200a9],
  ]);
  assertEquals(advapi.sidToString(entries[0].sid!), ADMINS);
  const sid = advapi.sidFromString(USER_SID);
  await advapi.denyAccess("C:\\Locked", sid, { deny: ["read"] });
  assertEquals(fake.securityWrites.at(-1)?.info, (4 | 0x80000000) >>> 0);
  assert(fake.files.get("c:\\locked")!.protected);
  kernel.localHeap.assertAllFreed();
});

Deno.test("DACL failures: missing path, NULL DACL, status codes exact", async () => {
  const { kernel, fake, advapi } = setup();
  files(fake);
  const sid = advapi.sidFromString(USER_SID);
  await assertRejects(
    () => advapi.denyAccess("C:\\Nope", sid, { deny: ["read"] }),
    Win32Error,
    /^GetNamedSecurityInfoW failed: ERROR_FILE_NOT_FOUND \(2\) \(C:\\Nope\)$/,
  );
  fake.addFile("C:\\Open", { explicit: null });
  await assertRejects(
    () => advapi.denyAccess("C:\\Open", sid, { deny: ["read"] }),
    Error,
    /NULL DACL/,
  );
  assertEquals(advapi.accessEntries("C:\\Open"), null);
  assertEquals(await advapi.removeAccessEntries("C:\\Open", sid), false);
  fake.failNext.set("SetEntriesInAclW", 1336);
  await assertRejects(
    () => advapi.denyAccess("C:\\Secret", sid, { deny: ["read"] }),
    Win32Error,
    /SetEntriesInAclW failed: ERROR_INVALID_ACL \(1336\)/,
  );
  // Nonblocking, yet exact: the status is the return value.
  fake.failNext.set("SetNamedSecurityInfoW", 5);
  const error = await assertRejects(
    () => advapi.denyAccess("C:\\Secret", sid, { deny: ["read"] }),
    Win32Error,
    /^SetNamedSecurityInfoW failed: ERROR_ACCESS_DENIED \(5\) \(C:\\Secret\)$/,
  );
  assertEquals((error as Win32Error).code, 5);
  kernel.localHeap.assertAllFreed();
  await assertRejects(
    () =>
      advapi.denyAccess("C:\\Secret", new Uint8Array(4), { deny: ["read"] }),
    TypeError,
  );
  await assertRejects(
    () => advapi.denyAccess("C:\\Secret", sid, { deny: [] }),
    TypeError,
  );
  await assertRejects(
    () => advapi.denyAccess("", sid, { deny: ["read"] }),
    TypeError,
    /path/,
  );
});

Deno.test("protectFolder: a protected DACL for SYSTEM and Administrators, inherited below", async () => {
  const { kernel, fake, advapi } = setup();
  const fromProgramData: FakeAce = {
    type: 0,
    flags: 0x13,
    mask: 0x1200a9,
    sid: USERS,
    from: "c:\\programdata",
  };
  fake.addFile("C:\\ProgramData\\webstream", {
    directory: true,
    explicit: [{ type: 0, flags: 3, mask: 0x1f01ff, sid: USER_SID }],
    inherited: [fromProgramData],
  });
  fake.addFile("C:\\ProgramData\\webstream\\rdp", {
    directory: true,
    inherited: [{ ...fromProgramData, from: "c:\\programdata\\webstream" }],
  });
  await advapi.protectFolder("C:\\ProgramData\\webstream");
  // What SetEntriesInAclW read from the EXPLICIT_ACCESS_W array.
  const grant = {
    mask: FILE_ALL_ACCESS,
    mode: SET_ACCESS,
    inheritance: SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    form: TRUSTEE_IS_SID,
  };
  assertEquals(fake.explicitAccess, [
    { ...grant, trusteeType: TRUSTEE_IS_WELL_KNOWN_GROUP, sid: "S-1-5-18" },
    { ...grant, trusteeType: TRUSTEE_IS_GROUP, sid: ADMINS },
  ]);
  // The flags SetNamedSecurityInfoW got: the DACL, protected.
  assertEquals(fake.securityWrites, [{
    path: "c:\\programdata\\webstream",
    info: (DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION) >>>
      0,
  }]);
  assert(fake.files.get("c:\\programdata\\webstream")!.protected);
  // Only the two: the old explicit ACE and what came from ProgramData are gone.
  assertEquals(fake.dacl("C:\\ProgramData\\webstream"), [
    { type: 0, flags: 3, mask: FILE_ALL_ACCESS, sid: "S-1-5-18" },
    { type: 0, flags: 3, mask: FILE_ALL_ACCESS, sid: ADMINS },
  ]);
  // Propagated: the subfolder inherits exactly these.
  assertEquals(
    fake.dacl("C:\\ProgramData\\webstream\\rdp")!.map((a) => [
      a.flags,
      a.mask,
      a.sid,
    ]),
    [[0x13, FILE_ALL_ACCESS, "S-1-5-18"], [0x13, FILE_ALL_ACCESS, ADMINS]],
  );
  // The two SIDs and the new ACL: each freed once.
  kernel.localHeap.assertAllFreed();
  assertEquals(
    kernel.localHeap.all().map((b) => [b.what, b.frees]).sort(),
    [
      ["ConvertStringSidToSidW", 1],
      ["ConvertStringSidToSidW", 1],
      ["SetEntriesInAclW", 1],
    ],
  );
});

Deno.test("protectFolder failures: missing folder, statuses exact, inputs", async () => {
  const { kernel, fake, advapi } = setup();
  await assertRejects(
    () => advapi.protectFolder("C:\\Nope"),
    Win32Error,
    /^SetNamedSecurityInfoW failed: ERROR_FILE_NOT_FOUND \(2\) \(C:\\Nope\)$/,
  );
  fake.addFile("C:\\Data", { directory: true });
  fake.failNext.set("SetEntriesInAclW", 1336);
  await assertRejects(
    () => advapi.protectFolder("C:\\Data"),
    Win32Error,
    /^SetEntriesInAclW failed: ERROR_INVALID_ACL \(1336\) \(C:\\Data\)$/,
  );
  fake.failNext.set("SetNamedSecurityInfoW", 5);
  await assertRejects(
    () => advapi.protectFolder("C:\\Data"),
    Win32Error,
    /ERROR_ACCESS_DENIED \(5\)/,
  );
  assertEquals(fake.files.get("c:\\data")!.protected, false);
  kernel.localHeap.assertAllFreed();
  await assertRejects(() => advapi.protectFolder(""), TypeError, /folder/);
  await assertRejects(() => advapi.protectFolder("C:\\a\0b"), TypeError);
});

Deno.test("parseAcl reads an ACL the fake encoded, and checks bounds", () => {
  const aces: FakeAce[] = [
    { type: 1, flags: 3, mask: 0x9, sid: USER_SID },
    { type: 0, flags: 0x10, mask: 0x1200a9, sid: "S-1-5-18" },
  ];
  const acl = fakeEncodeAcl(aces);
  const parsed = parseAcl(acl);
  assertEquals(parsed.revision, 2);
  assertEquals(
    parsed.entries.map((e) => [e.type, e.flags, e.mask, e.raw.length]),
    [
      [1, 3, 0x9, 36],
      [0, 0x10, 0x1200a9, 20],
    ],
  );
  assertThrows(() => parseAcl(acl.slice(0, 12)), RangeError);
  assertThrows(() => parseAcl(new Uint8Array(4)), RangeError);
});

// --- Registry --------------------------------------------------------------------

const HIVE = "C:\\Users\\ws1\\NTUSER.DAT";
const OTHER_HIVE = "C:\\Users\\ws2\\NTUSER.DAT";

Deno.test("withLoadedHive loads, edits and always unloads", async () => {
  const { kernel, fake, advapi } = setup();
  const software = new FakeKey("Software");
  software.subkeys.set("old", new FakeKey("Old"));
  fake.hiveFile(HIVE).subkeys.set("software", software);
  const result = await advapi.withLoadedHive(HIVE, "webstream-ws1", (hive) => {
    assertEquals(hive, { root: HKEY_USERS, path: "webstream-ws1" });
    assert(fake.key(HKU, "webstream-ws1\\Software\\Old"));
    advapi.setString(hive.root, `${hive.path}\\Software\\Webstream`, {
      name: "Mode",
      data: "kiosk",
    });
    advapi.setString(hive.root, `${hive.path}\\Environment`, {
      name: "Path",
      data: "%USERPROFILE%\\bin",
      expand: true,
    });
    advapi.setDword(hive.root, `${hive.path}\\Software\\Webstream`, {
      name: "Level",
      data: 0xfffffffe,
    });
    assertEquals(
      advapi.deleteTree(hive.root, `${hive.path}\\Software\\Old`),
      true,
    );
    assertEquals(
      advapi.deleteTree(hive.root, `${hive.path}\\Software\\Old`),
      false,
    );
    assertEquals(
      advapi.keyExists(hive.root, `${hive.path}\\Software\\Webstream`),
      true,
    );
    return "done";
  });
  assertEquals(result, "done");
  assertEquals(fake.key(HKU, "webstream-ws1"), undefined);
  // The edits are in the hive file.
  const key = fake.hiveFile(HIVE).find("Software\\Webstream")!;
  const mode = key.values.get("mode")!;
  assertEquals(mode.type, REG_SZ);
  assertEquals([...mode.data], [...wide("kiosk")]); // NUL counted
  const level = key.values.get("level")!;
  assertEquals([level.type, [...level.data]], [REG_DWORD, [
    0xfe,
    0xff,
    0xff,
    0xff,
  ]]);
  const path = fake.hiveFile(HIVE).find("Environment")!.values.get("path")!;
  assertEquals(path.type, REG_EXPAND_SZ);
  assertEquals(fake.hiveFile(HIVE).find("Software\\Old"), undefined);
  // Privileges were enabled for RegLoadKey; every key was closed.
  assert(
    fake.enabled.has("sebackupprivilege") &&
      fake.enabled.has("serestoreprivilege"),
  );
  kernel.assertAllClosed("hkey");
  kernel.assertAllClosed("token");
  assertEquals(fake.createdHiveFiles, []);
});

Deno.test("withLoadedHive unloads after a failure and reports both errors", async () => {
  const { kernel, fake, advapi } = setup();
  fake.hiveFile(HIVE);
  fake.hiveFile(OTHER_HIVE);
  const boom = new Error("boom");
  const error = await assertRejects(
    () => advapi.withLoadedHive(HIVE, "h1", () => Promise.reject(boom)),
  );
  assertEquals(error, boom);
  assertEquals(fake.key(HKU, "h1"), undefined);
  // A key left open keeps the hive loaded: RegUnLoadKey says so, exactly.
  const leak = new Uint8Array(8);
  await assertRejects(
    () =>
      advapi.withLoadedHive(HIVE, "h2", () => {
        fake.symbols.RegOpenKeyExW(
          pointerAt(HKEY_USERS),
          wide("h2"),
          0,
          KEY_READ,
          leak,
        );
      }),
    Win32Error,
    /^RegUnLoadKeyW failed: ERROR_ACCESS_DENIED \(5\) \(h2\)$/,
  );
  const both = await assertRejects(
    () =>
      advapi.withLoadedHive(OTHER_HIVE, "h3", () => {
        fake.symbols.RegOpenKeyExW(
          pointerAt(HKEY_USERS),
          wide("h3"),
          0,
          KEY_READ,
          leak,
        );
        throw boom;
      }),
    AggregateError,
    /boom; then RegUnLoadKeyW failed: ERROR_ACCESS_DENIED/,
  );
  assertEquals((both as AggregateError).errors[0], boom);
  // Closing the stray handles lets the hives go.
  for (const h of kernel.handles("hkey").filter((h) => !h.closed)) {
    fake.symbols.RegCloseKey(pointerAt(h.address));
  }
  await advapi.unloadHive("h2");
  await advapi.unloadHive("h3");
  assertEquals(fake.roots.get(HKU)!.subkeys.size, 2);
});

Deno.test("hive load failures are exact and skip the callback", async () => {
  const { fake, advapi } = setup();
  let called = false;
  const fn = () => {
    called = true;
  };
  fake.failNext.set("RegLoadKeyW", 32);
  const error = await assertRejects(
    () => advapi.withLoadedHive(HIVE, "h", fn),
    Win32Error,
    /^RegLoadKeyW failed: ERROR_SHARING_VIOLATION \(32\) \(C:\\Users\\ws1\\NTUSER\.DAT\)$/,
  );
  assertEquals((error as Win32Error).code, 32);
  await assertRejects(
    () => advapi.withLoadedHive(HIVE, "a\\b", fn),
    TypeError,
    /one key name/,
  );
  await assertRejects(
    () => advapi.withLoadedHive("NTUSER.DAT", "h", fn),
    TypeError,
    /absolute/,
  );
  fake.held.delete("serestoreprivilege");
  await assertRejects(
    () => advapi.withLoadedHive(HIVE, "h", fn),
    Win32Error,
    /ERROR_NOT_ALL_ASSIGNED \(1300\) \(SeRestorePrivilege\)/,
  );
  assertEquals(called, false);
});

Deno.test("loading a hive twice is a sharing violation; a missing file is created", async () => {
  const { fake, advapi } = setup();
  fake.hiveFile(HIVE);
  await advapi.loadHive(HIVE, "first");
  await assertRejects(
    () => advapi.loadHive(HIVE, "second"),
    Win32Error,
    /ERROR_SHARING_VIOLATION \(32\)/,
  );
  await advapi.unloadHive("first");
  await advapi.loadHive("C:\\Users\\new\\NTUSER.DAT", "new");
  assertEquals(fake.createdHiveFiles, ["C:\\Users\\new\\NTUSER.DAT"]);
  await advapi.unloadHive("new");
  await assertRejects(
    () => advapi.unloadHive("never"),
    Win32Error,
    /RegUnLoadKeyW failed: ERROR_FILE_NOT_FOUND \(2\) \(never\)/,
  );
});

Deno.test("registry keys and values under HKEY_LOCAL_MACHINE", () => {
  const { kernel, fake, advapi } = setup();
  fake.roots.get(HKLM)!.subkeys.set("software", new FakeKey("SOFTWARE"));
  assertEquals(
    advapi.createKey(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream"),
    true,
  );
  assertEquals(
    advapi.createKey(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream"),
    false,
  );
  assertEquals(advapi.keyExists(HKEY_LOCAL_MACHINE, "SOFTWARE\\Nope"), false);
  advapi.setDword(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream", {
    name: "Port",
    data: 8443,
  });
  assertEquals(
    advapi.deleteValue(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream", {
      name: "Port",
    }),
    true,
  );
  assertEquals(
    advapi.deleteValue(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream", {
      name: "Port",
    }),
    false,
  );
  assertEquals(
    advapi.deleteValue(HKEY_LOCAL_MACHINE, "SOFTWARE\\Nope", { name: "Port" }),
    false,
  );
  // Keys right under the roots are hives: Windows refuses to create them.
  assertThrows(
    () => advapi.createKey(HKEY_USERS, "NewTop"),
    Win32Error,
    /^RegCreateKeyExW failed: ERROR_ACCESS_DENIED \(5\) \(NewTop\)$/,
  );
  fake.failNext.set("RegSetValueExW", 5);
  assertThrows(
    () =>
      advapi.setString(HKEY_LOCAL_MACHINE, "SOFTWARE\\Webstream", {
        name: "X",
        data: "y",
      }),
    Win32Error,
    /RegSetValueExW failed: ERROR_ACCESS_DENIED \(5\) \(SOFTWARE\\Webstream\\X\)/,
  );
  kernel.assertAllClosed("hkey");
});

Deno.test("registry inputs are validated; roots are the sign-extended handles", () => {
  const { fake, advapi } = setup();
  assertEquals(advapi.keyExists(HKEY_USERS, ".DEFAULT"), true);
  // The zero-extended value is not HKEY_USERS on x64.
  assertThrows(
    () => advapi.keyExists(0x80000003n as typeof HKEY_USERS, ".DEFAULT"),
    TypeError,
    /HKEY_USERS or HKEY_LOCAL_MACHINE/,
  );
  assertEquals(
    fake.symbols.RegOpenKeyExW(
      pointerAt(0x80000003n),
      wide(".DEFAULT"),
      0,
      KEY_READ,
      new Uint8Array(8),
    ),
    6,
  );
  assertThrows(
    () => advapi.deleteTree(HKEY_USERS, "S-1-5-18"),
    TypeError,
    /top-level/,
  );
  assertThrows(
    () => advapi.deleteTree(HKEY_USERS, "a\\\\b"),
    TypeError,
    /registry key path/,
  );
  assertThrows(() => advapi.deleteTree(HKEY_USERS, ""), TypeError);
  assertThrows(() => advapi.createKey(HKEY_USERS, "x".repeat(256)), TypeError);
  assertThrows(
    () => advapi.setDword(HKEY_USERS, ".DEFAULT\\X", { name: "n", data: -1 }),
    RangeError,
  );
  assertThrows(
    () =>
      advapi.setDword(HKEY_USERS, ".DEFAULT\\X", { name: "n", data: 2 ** 32 }),
    RangeError,
  );
  assertThrows(
    () =>
      advapi.setString(HKEY_USERS, ".DEFAULT\\X", { name: "a\0", data: "" }),
    TypeError,
  );
  assertThrows(
    () =>
      advapi.setString(HKEY_USERS, ".DEFAULT\\X", { name: "a", data: "b\0" }),
    TypeError,
    /NUL/,
  );
  assertMatch(String(HKEY_USERS), /^18446744071562067971$/);
});

Deno.test("getString reads REG_SZ and REG_EXPAND_SZ values, sizing its buffer", () => {
  const { kernel, fake, advapi } = setup();
  fake.roots.get(HKLM)!.subkeys.set("software", new FakeKey("SOFTWARE"));
  const list = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList";
  advapi.setString(HKEY_LOCAL_MACHINE, `${list}\\${USER_SID}`, {
    name: "ProfileImagePath",
    data: "%SystemDrive%\\Users\\ws1.WSHOST",
    expand: true,
  });
  advapi.setString(HKEY_LOCAL_MACHINE, list, {
    name: "ProfilesDirectory",
    data: "C:\\Users",
  });
  assertEquals(
    advapi.getString(HKEY_LOCAL_MACHINE, `${list}\\${USER_SID}`, {
      name: "profileimagepath",
    }),
    { data: "%SystemDrive%\\Users\\ws1.WSHOST", expand: true },
  );
  assertEquals(
    advapi.getString(HKEY_LOCAL_MACHINE, list, { name: "ProfilesDirectory" }),
    { data: "C:\\Users", expand: false },
  );
  // Missing key, missing value: undefined.
  assertEquals(
    advapi.getString(HKEY_LOCAL_MACHINE, `${list}\\S-1-5-21-9`, {
      name: "ProfileImagePath",
    }),
    undefined,
  );
  assertEquals(
    advapi.getString(HKEY_LOCAL_MACHINE, list, { name: "Nope" }),
    undefined,
  );
  // Longer than the first guess: grown to what the call reported.
  const long = "D:\\" + "p".repeat(400);
  advapi.setString(HKEY_USERS, ".DEFAULT\\Environment", {
    name: "Long",
    data: long,
  });
  fake.calls.length = 0;
  assertEquals(
    advapi.getString(HKEY_USERS, ".DEFAULT\\Environment", { name: "Long" }),
    { data: long, expand: false },
  );
  assertEquals(count(fake.calls, "RegGetValueW"), 2);
  // A string stored without its NUL comes back whole.
  const env = fake.key(HKU, ".DEFAULT\\Environment")!;
  env.values.set("raw", {
    name: "Raw",
    type: REG_SZ,
    data: wide("abc").slice(0, 6),
  });
  assertEquals(
    advapi.getString(HKEY_USERS, ".DEFAULT\\Environment", { name: "Raw" }),
    { data: "abc", expand: false },
  );
  kernel.assertAllClosed("hkey");
});

Deno.test("getString failures: another type, status codes, inputs", () => {
  const { fake, advapi } = setup();
  advapi.setDword(HKEY_USERS, ".DEFAULT\\X", { name: "n", data: 1 });
  assertThrows(
    () => advapi.getString(HKEY_USERS, ".DEFAULT\\X", { name: "n" }),
    Win32Error,
    /^RegGetValueW failed: ERROR_UNSUPPORTED_TYPE \(1630\) \(\.DEFAULT\\X\\n\)$/,
  );
  fake.failNext.set("RegGetValueW", 5);
  assertThrows(
    () => advapi.getString(HKEY_USERS, ".DEFAULT\\X", { name: "n" }),
    Win32Error,
    /RegGetValueW failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  assertThrows(
    () => advapi.getString(HKEY_USERS, "", { name: "n" }),
    TypeError,
    /registry key path/,
  );
  assertThrows(
    () => advapi.getString(HKEY_USERS, ".DEFAULT", { name: "a\0" }),
    TypeError,
    /value name/,
  );
  // The fake refuses RRF_RT_REG_EXPAND_SZ without RRF_NOEXPAND, as winreg.h says.
  assertEquals(
    fake.symbols.RegGetValueW(
      pointerAt(HKEY_USERS),
      wide(".DEFAULT\\X"),
      wide("n"),
      RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ,
      null,
      null,
      new Uint32Array(1),
    ),
    87,
  );
});
