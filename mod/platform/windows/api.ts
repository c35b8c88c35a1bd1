/**
 * The operating-system operations the Windows platform needs, in platform
 * terms. The platform (`mod.ts`) holds the logic and is tested against a fake
 * machine (`tests/support/windows/fake_machine.ts`); the real implementation
 * (`win32_api.ts`) delegates each method to the typed Win32 wrappers in
 * `ffi/windows/`. Next to each method: the calls that implement it.
 *
 * Every method may reject with the bindings' `Win32Error` / `NetApiError`
 * (which carry the SDK code names); the contracts below say which outcomes
 * are normal results instead.
 *
 * @module
 */

/** A local account as `NetUserGetInfo` level 1 reports it. */
export interface UserInfo {
  /** `usri1_comment`. */
  comment: string;
  /** `usri1_flags` (`UF_*`). */
  flags: number;
}

/** A local account to create. */
export interface NewUser {
  /** Account name (at most 20 characters). */
  name: string;
  /** Its password. */
  password: string;
  /** `usri1_comment`: webstream's pool marker. */
  comment: string;
  /** `usri1_flags` (`UF_SCRIPT` included). */
  flags: number;
}

/** An account's security identifier. */
export interface AccountSid {
  /** The binary SID (for ACL and group calls). */
  sid: Uint8Array;
  /** Its string form (`S-1-5-21-…-1001`), for profile calls. */
  sidString: string;
}

/** `WTS_CONNECTSTATE_CLASS` (wtsapi32.h), in order of their values 0–9. */
export const WTS_STATES = [
  "active",
  "connected",
  "connectQuery",
  "shadow",
  "disconnected",
  "idle",
  "listen",
  "reset",
  "down",
  "init",
] as const;

/** A WTS session's connect state. */
export type WtsState = typeof WTS_STATES[number];

/** A Remote Desktop Services session. */
export interface WtsSession {
  /** `SessionId`. */
  id: number;
  /** `WTSWinStationName` (`Console`, `RDP-Tcp#3`, `Services`). */
  station: string;
  /** `State`. */
  state: WtsState;
  /** `WTSUserName`: the logged-on user, "" when none. */
  user: string;
}

/** An open primary token of a logged-on user (opaque; close it). */
export interface UserToken {
  /** The session it belongs to (for messages). */
  readonly sessionId: number;
}

/**
 * A job object whose processes Windows kills when its last handle closes —
 * when this process ends, however it ends (opaque; never closed while the
 * service runs: closing it kills them).
 */
export interface ProcessJob {
  /** Always true: what the job does when it is closed. */
  readonly killOnClose: true;
}

/** What to start in a user's session. */
export interface UserProcessOptions {
  /** Program (an absolute path) and arguments. */
  argv: readonly string[];
  /** Working folder; undefined: the user's profile (`USERPROFILE`). */
  cwd?: string;
  /** Variables added to the user's own environment block. */
  env: Readonly<Record<string, string>>;
}

/** A process started in a user's session. */
export interface UserProcess {
  /** Its process id. */
  readonly pid: number;
  /**
   * Resolves with the exit code once it has exited (the same promise every
   * time); the process handle is closed then.
   */
  wait(): Promise<number>;
  /** Ends it (`TerminateProcess`, exit code 1); nothing if it has exited. */
  kill(): void;
}

/** A `filesystemRestrictions` entry as a DENY ACE. */
export interface DenyRule {
  /** Rights denied (advapi32's `DENY_MASKS` give their access masks). */
  deny: readonly ("read" | "write" | "execute")[];
  /** Inherited by everything below a folder (and propagated to what exists). */
  recursive: boolean;
}

/** A pool account as the hive restore needs it. */
export interface HiveOwner {
  /** Account name (its profile folder is usually named after it). */
  name: string;
  /** Its SID string. */
  sidString: string;
}

/** A registry value to write into a user's hive. */
export interface HiveValue {
  /** Key path relative to the hive root (`Environment`). */
  key: string;
  /** Value name. */
  name: string;
  /** `REG_SZ` or `REG_EXPAND_SZ`. */
  type: "REG_SZ" | "REG_EXPAND_SZ";
  /** The string data. */
  data: string;
}

/** How a user's registry hive is put back to webstream's defaults. */
export interface HiveRestore {
  /** Keys (relative to the hive root) deleted with every subkey. */
  deleteKeys: readonly string[];
  /** Values written afterwards (their keys are created as needed). */
  setValues: readonly HiveValue[];
}

/** The local end of a TCP connection. */
export interface TcpEndpoint {
  /** IPv4 or IPv6 address. */
  hostname: string;
  /** Port. */
  port: number;
}

/** The Win32 operations of the Windows platform. */
export interface WindowsApi {
  /**
   * Enables privileges (`SeTcbPrivilege`, …) in this process's token.
   * Rejects (`ERROR_NOT_ALL_ASSIGNED`) when the token does not hold one.
   *
   * `Advapi32.enablePrivilege` per name: OpenProcessToken,
   * LookupPrivilegeValueW, AdjustTokenPrivileges, then
   * GetTokenInformation(TokenPrivileges) to confirm it is enabled (the
   * ERROR_NOT_ALL_ASSIGNED that comes with TRUE is a last-error value, not
   * reliably readable), CloseHandle.
   */
  enablePrivileges(names: readonly string[]): Promise<void>;

  /**
   * A local account's comment and flags; undefined when there is none.
   *
   * `NetApi32.getUser`: NetUserGetInfo(NULL, name, 1) (NERR_UserNotFound →
   * undefined), NetApiBufferFree.
   */
  getUser(name: string): Promise<UserInfo | undefined>;

  /** `NetApi32.addUser`: NetUserAdd(NULL, 1, USER_INFO_1 with USER_PRIV_USER). */
  addUser(user: NewUser): Promise<void>;

  /** `NetApi32.setPassword`: NetUserSetInfo(NULL, name, 1003). */
  setPassword(name: string, password: string): Promise<void>;

  /** `NetApi32.setFlags`: NetUserSetInfo(NULL, name, 1008). */
  setUserFlags(name: string, flags: number): Promise<void>;

  /**
   * Deletes a local account; false when there was none.
   *
   * `NetApi32.deleteUser`: NetUserDel (NERR_UserNotFound → false).
   */
  deleteUser(name: string): Promise<boolean>;

  /**
   * The SID of the LOCAL account `name`: looked up as `COMPUTERNAME\name`,
   * so that a domain account of the same name never matches, and refused
   * unless it is a user.
   *
   * `Advapi32.lookupAccount`: LookupAccountNameW (sizes, then data),
   * ConvertSidToStringSidW, LocalFree.
   */
  accountSid(name: string): Promise<AccountSid>;

  /**
   * The localized name of a well-known local group (`Remote Desktop Users`
   * is `Remotedesktopbenutzer` on German Windows).
   *
   * `Advapi32.sidFromString` + `Advapi32.lookupSid`: ConvertStringSidToSidW,
   * GetLengthSid, LocalFree, LookupAccountSidW.
   */
  groupName(sidString: string): Promise<string>;

  /**
   * Makes `sid` a member of the local group; already being one is success.
   *
   * `NetApi32.addGroupMembers`: NetLocalGroupAddMembers(NULL, group, 0,
   * LOCALGROUP_MEMBERS_INFO_0) (ERROR_MEMBER_IN_ALIAS → success).
   */
  addToGroup(group: string, sid: Uint8Array): Promise<void>;

  /**
   * Every WTS session with its state and user.
   *
   * `WtsApi32.sessions` + `WtsApi32.userName` per session:
   * WTSEnumerateSessionsW, WTSQuerySessionInformationW(WTSUserName),
   * WTSFreeMemory.
   */
  sessions(): Promise<WtsSession[]>;

  /**
   * Logs a session off and waits until it is; a session that no longer
   * exists counts as logged off.
   *
   * `WtsApi32.logoff`: WTSLogoffSession(bWait TRUE), nonblocking, so its
   * error code is not readable: a failure is checked against
   * `WtsApi32.sessions` (gone → success).
   */
  logoff(id: number): Promise<void>;

  /**
   * The primary token of the user logged on to a session. Rejects
   * (`ERROR_NO_TOKEN`, as far as the last error can be read) while no user
   * is logged on to it yet; the platform retries any failure for a while
   * after a logon rather than trust that code. Needs SeTcbPrivilege.
   *
   * `WtsApi32.userToken`: WTSQueryUserToken.
   */
  userToken(sessionId: number): Promise<UserToken>;

  /**
   * Starts a process as the token's user on its session's interactive
   * desktop (`winsta0\default`), with the user's environment plus `env`, no
   * console window. Needs SeAssignPrimaryTokenPrivilege and
   * SeIncreaseQuotaPrivilege.
   *
   * `UserEnv.environmentStrings` (CreateEnvironmentBlock(bInherit FALSE),
   * DestroyEnvironmentBlock), `mergeEnvironment`, strings' `wideList`,
   * `Advapi32.createProcessAsUser` (CreateProcessAsUserW with
   * `quoteCommandLine(argv)`, CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW
   * | CREATE_NEW_PROCESS_GROUP; CloseHandle(hThread)). `wait()`:
   * `Kernel32.wait` (WaitForSingleObject, nonblocking), `Kernel32.exitCodeRaw`
   * (GetExitCodeProcess: after the wait, 259 is a real code, not
   * STILL_ACTIVE), `Kernel32.closeHandle`; `kill()`:
   * `Kernel32.terminateProcess`.
   */
  startProcessAsUser(
    token: UserToken,
    options: UserProcessOptions,
  ): Promise<UserProcess>;

  /** Closes a token. `Kernel32.closeHandle`: CloseHandle. */
  closeHandle(token: UserToken): void;

  /**
   * Creates a job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` whose
   * handle (not inheritable) is kept for the rest of this process's life:
   * when the process ends, a crash included, Windows closes it and kills
   * every process in the job.
   *
   * `Kernel32.createKillOnCloseJob`: CreateJobObjectW(NULL, NULL),
   * SetInformationJobObject(JobObjectExtendedLimitInformation,
   * JOBOBJECT_EXTENDED_LIMIT_INFORMATION), CloseHandle on failure.
   */
  createProcessJob(): Promise<ProcessJob>;

  /**
   * Puts the process `pid` (and whatever it starts from then on) in `job`.
   * Rejects for a process that has exited or cannot be opened.
   *
   * `Kernel32.openProcess` (OpenProcess with PROCESS_SET_QUOTA |
   * PROCESS_TERMINATE), `Kernel32.assignToJob` (AssignProcessToJobObject),
   * `Kernel32.closeHandle` of the process handle.
   */
  assignToJob(job: ProcessJob, pid: number): Promise<void>;

  /**
   * The WTS session a process runs in.
   *
   * `Kernel32.processSessionId`: ProcessIdToSessionId.
   */
  processSessionId(pid: number): Promise<number>;

  /**
   * The process owning the TCP connection whose LOCAL end is `local`;
   * undefined when there is none.
   *
   * iphlpapi: GetExtendedTcpTable(TCP_TABLE_OWNER_PID_CONNECTIONS) for
   * AF_INET (MIB_TCPTABLE_OWNER_PID) and AF_INET6
   * (MIB_TCP6TABLE_OWNER_PID); ports in network byte order.
   */
  tcpOwnerPid(local: TcpEndpoint): Promise<number | undefined>;

  /**
   * Makes the explicit DENY ACEs of `sid` on `path` exactly one, for
   * `rule`, so re-applying is idempotent and a narrowed restriction
   * replaces the wider one. Rejects with the lookup's error for a path that
   * does not exist (`ERROR_FILE_NOT_FOUND`, `ERROR_PATH_NOT_FOUND`).
   *
   * `Advapi32.denyAccess`: GetNamedSecurityInfoW(SE_FILE_OBJECT,
   * DACL_SECURITY_INFORMATION), SetEntriesInAclW(DENY_ACCESS, TRUSTEE_IS_SID),
   * SetNamedSecurityInfoW (nonblocking: it propagates inheritable ACEs
   * through the tree), LocalFree.
   */
  denyAccess(path: string, sid: Uint8Array, rule: DenyRule): Promise<void>;

  /**
   * Removes the explicit DENY ACEs of `sid` from `path`.
   *
   * `Advapi32.removeAccessEntries`: GetNamedSecurityInfoW,
   * SetNamedSecurityInfoW, LocalFree.
   */
  clearDenies(path: string, sid: Uint8Array): Promise<void>;

  /**
   * Deletes a user's profile (folder, hive, ProfileList entry); false when
   * the user has none. Rejects while the profile is loaded.
   *
   * `UserEnv.deleteProfile`: DeleteProfileW (nonblocking, so a failure has
   * no readable code); after a failure `Advapi32.keyExists` (RegOpenKeyExW)
   * of `HKLM\…\ProfileList\<SID>` decides: gone → false, still there →
   * rejects naming the SID.
   */
  deleteProfile(sidString: string): Promise<boolean>;

  /**
   * Makes a folder of the service's (its runtime directory, its logs)
   * reachable by LocalSystem and Administrators only: a protected DACL
   * (nothing inherited from `%ProgramData%`, where every user may create
   * and read) granting both full control, inherited by its contents.
   * Rejects for a folder that does not exist.
   *
   * `Advapi32.protectFolder`: ConvertStringSidToSidW (S-1-5-18,
   * S-1-5-32-544), LocalFree, SetEntriesInAclW(SET_ACCESS, FILE_ALL_ACCESS,
   * SUB_CONTAINERS_AND_OBJECTS_INHERIT, NULL old ACL),
   * SetNamedSecurityInfoW(DACL_SECURITY_INFORMATION |
   * PROTECTED_DACL_SECURITY_INFORMATION; nonblocking), LocalFree.
   */
  protectFolder(path: string): Promise<void>;

  /**
   * Puts the user's registry hive back to defaults: deletes `deleteKeys`
   * and writes `setValues`. Works on `HKEY_USERS\<sid>` when the hive is
   * loaded (a logged-on user); otherwise loads the profile's NTUSER.DAT
   * for the while and unloads it. False when the user has no profile.
   * Needs SeBackupPrivilege and SeRestorePrivilege.
   *
   * The profile folder is the ProfileList record's `ProfileImagePath`
   * (`Advapi32.getString`: RegGetValueW; `Kernel32.expandEnvironment`:
   * ExpandEnvironmentStringsW), or, without a record,
   * `UserEnv.profilesDirectory` (GetProfilesDirectoryW) + the account name;
   * `Advapi32.keyExists` (RegOpenKeyExW), `Advapi32.withLoadedHive`
   * (RegLoadKeyW / RegUnLoadKeyW, nonblocking), `Advapi32.deleteTree`
   * (RegDeleteTreeW), `Advapi32.setString` (RegCreateKeyExW,
   * RegSetValueExW, RegCloseKey).
   */
  restoreHive(owner: HiveOwner, restore: HiveRestore): Promise<boolean>;
}

/** Privileges the platform enables (winnt.h `SE_*_NAME`). */
export const PLATFORM_PRIVILEGES = [
  // WTSQueryUserToken.
  "SeTcbPrivilege",
  // CreateProcessAsUserW with another user's primary token.
  "SeAssignPrimaryTokenPrivilege",
  "SeIncreaseQuotaPrivilege",
  // RegLoadKeyW / RegUnLoadKeyW of a user's hive.
  "SeBackupPrivilege",
  "SeRestorePrivilege",
] as const;
