/**
 * netapi32: local user accounts and local group membership, for the pool
 * accounts the Windows session host creates, rotates and removes.
 *
 * Every `Net*` call here takes a server name (we always pass NULL: the
 * local computer) and may go over RPC, so each is `nonblocking`; they
 * return their `NET_API_STATUS` directly, so errors stay exact off the
 * event-loop thread. Buffers the system returns are released with
 * `NetApiBufferFree`.
 *
 * Struct layouts and constants are those of `lmaccess.h` / `lmcons.h` /
 * `lmerr.h` for 64-bit Windows.
 *
 * Binary SIDs (`PSID`) are handled as bytes (`sid.ts` converts the
 * `S-1-5-32-555` form without a DLL).
 *
 * @module
 */
import { NetApiError } from "./errors.ts";
import { isValidSid } from "./sid.ts";
import { readWide, wide } from "./strings.ts";
import {
  addressOf,
  copyFrom,
  defineStruct,
  encodeStruct,
  holding,
  OutParam,
  pointerAt,
  readStruct,
  viewOf,
} from "./struct.ts";

/** netapi32's symbols used by webstream. All but NetApiBufferFree may do RPC. */
export const NETAPI32_SYMBOLS = {
  // (servername, level, buf, parm_err*) -> NET_API_STATUS
  NetUserAdd: {
    parameters: ["buffer", "u32", "buffer", "buffer"],
    result: "u32",
    nonblocking: true,
  },
  // (servername, username, level, buf, parm_err*)
  NetUserSetInfo: {
    parameters: ["buffer", "buffer", "u32", "buffer", "buffer"],
    result: "u32",
    nonblocking: true,
  },
  // (servername, username, level, LPBYTE* bufptr)
  NetUserGetInfo: {
    parameters: ["buffer", "buffer", "u32", "buffer"],
    result: "u32",
    nonblocking: true,
  },
  // (servername, username)
  NetUserDel: {
    parameters: ["buffer", "buffer"],
    result: "u32",
    nonblocking: true,
  },
  // (servername, groupname, level, buf, totalentries)
  NetLocalGroupAddMembers: {
    parameters: ["buffer", "buffer", "u32", "buffer", "u32"],
    result: "u32",
    nonblocking: true,
  },
  NetApiBufferFree: { parameters: ["pointer"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw netapi32 functions. */
export type NetApi32Symbols = Deno.DynamicLibrary<
  typeof NETAPI32_SYMBOLS
>["symbols"];

/** Opens netapi32.dll (Windows only). */
export function openNetApi32(): NetApi32Symbols {
  return Deno.dlopen("netapi32.dll", NETAPI32_SYMBOLS).symbols;
}

/**
 * `USER_INFO_1` (lmaccess.h): 56 bytes on x64 — name @0, password @8,
 * password_age @16, priv @20, home_dir @24, comment @32, flags @40,
 * script_path @48.
 */
export const USER_INFO_1 = defineStruct({
  usri1_name: "ptr",
  usri1_password: "ptr",
  usri1_password_age: "u32",
  usri1_priv: "u32",
  usri1_home_dir: "ptr",
  usri1_comment: "ptr",
  usri1_flags: "u32",
  usri1_script_path: "ptr",
});

/** `USER_INFO_1003`: a password reset (8 bytes). */
export const USER_INFO_1003 = defineStruct({ usri1003_password: "ptr" });

/** `USER_INFO_1008`: account flags (4 bytes). */
export const USER_INFO_1008 = defineStruct({ usri1008_flags: "u32" });

/** `LOCALGROUP_MEMBERS_INFO_0`: one member's `PSID` (8 bytes). */
export const LOCALGROUP_MEMBERS_INFO_0 = defineStruct({ lgrmi0_sid: "ptr" });

/** `USER_PRIV_GUEST`. */
export const USER_PRIV_GUEST = 0;
/** `USER_PRIV_USER`: the only level NetUserAdd accepts. */
export const USER_PRIV_USER = 1;
/** `USER_PRIV_ADMIN`. */
export const USER_PRIV_ADMIN = 2;

/** `UF_SCRIPT`: "the logon script executed"; NetUserAdd/SetInfo require it. */
export const UF_SCRIPT = 0x0001;
/** `UF_ACCOUNTDISABLE`. */
export const UF_ACCOUNTDISABLE = 0x0002;
/** `UF_HOMEDIR_REQUIRED`. */
export const UF_HOMEDIR_REQUIRED = 0x0008;
/** `UF_LOCKOUT`. */
export const UF_LOCKOUT = 0x0010;
/** `UF_PASSWD_NOTREQD`. */
export const UF_PASSWD_NOTREQD = 0x0020;
/** `UF_PASSWD_CANT_CHANGE`. */
export const UF_PASSWD_CANT_CHANGE = 0x0040;
/** `UF_NORMAL_ACCOUNT`: the account-type bit of an ordinary user. */
export const UF_NORMAL_ACCOUNT = 0x0200;
/** `UF_DONT_EXPIRE_PASSWD`. */
export const UF_DONT_EXPIRE_PASSWD = 0x10000;
/** `UF_PASSWORD_EXPIRED`. */
export const UF_PASSWORD_EXPIRED = 0x800000;
/** Flags a new pool account gets unless told otherwise. */
export const POOL_ACCOUNT_FLAGS = UF_SCRIPT | UF_DONT_EXPIRE_PASSWD |
  UF_PASSWD_CANT_CHANGE;

/** `NERR_Success`. */
export const NERR_SUCCESS = 0;
/** `ERROR_INVALID_PARAMETER`: `parm_err` then names the bad field. */
export const ERROR_INVALID_PARAMETER = 87;
/** `ERROR_NO_SUCH_ALIAS`: no such local group. */
export const ERROR_NO_SUCH_ALIAS = 1376;
/** `ERROR_MEMBER_IN_ALIAS`: already a member (NOT an error for addGroupMembers). */
export const ERROR_MEMBER_IN_ALIAS = 1378;
/** `ERROR_NO_SUCH_MEMBER`: a SID that resolves to no account. */
export const ERROR_NO_SUCH_MEMBER = 1387;
/** `NERR_GroupNotFound`. */
export const NERR_GROUP_NOT_FOUND = 2220;
/** `NERR_UserNotFound`. */
export const NERR_USER_NOT_FOUND = 2221;
/** `NERR_UserExists`. */
export const NERR_USER_EXISTS = 2224;

/** `parm_err` values (lmaccess.h `USER_*_PARMNUM`) by number, for messages. */
export const USER_PARMNUM_NAMES: Readonly<Record<number, string>> = {
  1: "USER_NAME_PARMNUM",
  3: "USER_PASSWORD_PARMNUM",
  4: "USER_PASSWORD_AGE_PARMNUM",
  5: "USER_PRIV_PARMNUM",
  6: "USER_HOME_DIR_PARMNUM",
  7: "USER_COMMENT_PARMNUM",
  8: "USER_FLAGS_PARMNUM",
  9: "USER_SCRIPT_PATH_PARMNUM",
};

/** The well-known SID of BUILTIN\Remote Desktop Users (its name is localized). */
export const REMOTE_DESKTOP_USERS_SID = "S-1-5-32-555";

/** `LM20_UNLEN`: the longest user (SAM account) name. */
export const MAX_ACCOUNT_NAME = 20;
/** `PWLEN`: the longest password NetUserAdd accepts. */
export const MAX_PASSWORD = 256;
/** `MAXCOMMENTSZ`. */
export const MAX_COMMENT = 256;
/** `GNLEN`: the longest group name. */
export const MAX_GROUP_NAME = 256;

const FORBIDDEN_NAME_CHARS = /["/\\[\]:;|=,+*?<>@]/;
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f]/;

/**
 * Checks a local account name as Windows does: 1–20 characters, none of
 * `"/\[]:;|=,+*?<>@` nor control characters, not only dots and spaces.
 * Returns it; throws a `TypeError` naming the problem.
 */
export function checkAccountName(name: string): string {
  const q = JSON.stringify(name);
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError("invalid account name: empty");
  }
  if (name.length > MAX_ACCOUNT_NAME) {
    throw new TypeError(
      `invalid account name ${q}: longer than ${MAX_ACCOUNT_NAME} characters`,
    );
  }
  const bad = name.match(FORBIDDEN_NAME_CHARS);
  if (bad) {
    throw new TypeError(
      `invalid account name ${q}: contains ${JSON.stringify(bad[0])}`,
    );
  }
  if (CONTROL_CHARS.test(name)) {
    throw new TypeError(
      `invalid account name ${q}: contains a control character`,
    );
  }
  if (/^[. ]+$/.test(name)) {
    throw new TypeError(
      `invalid account name ${q}: only dots and spaces`,
    );
  }
  return name;
}

/** Checks a password: non-empty, at most 256 characters, no NUL. Never echoes it. */
export function checkPassword(password: string): string {
  if (typeof password !== "string" || password.length === 0) {
    throw new TypeError("invalid password: empty");
  }
  if (password.length > MAX_PASSWORD) {
    throw new TypeError(
      `invalid password: longer than ${MAX_PASSWORD} characters (${password.length})`,
    );
  }
  if (password.includes("\0")) {
    throw new TypeError("invalid password: contains NUL");
  }
  return password;
}

function checkComment(comment: string): string {
  if (comment.length > MAX_COMMENT) {
    throw new TypeError(
      `invalid account comment: longer than ${MAX_COMMENT} characters`,
    );
  }
  if (comment.includes("\0")) {
    throw new TypeError("invalid account comment: contains NUL");
  }
  return comment;
}

function checkGroupName(group: string): string {
  if (typeof group !== "string" || group.length === 0) {
    throw new TypeError("invalid group name: empty");
  }
  if (group.length > MAX_GROUP_NAME || group.includes("\0")) {
    throw new TypeError(
      `invalid group name ${
        JSON.stringify(group)
      }: longer than ${MAX_GROUP_NAME} characters or contains NUL`,
    );
  }
  return group;
}

function checkFlags(flags: number): number {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
    throw new TypeError(`invalid account flags: ${flags}`);
  }
  return flags;
}

/** A new account for {@linkcode NetApi32.addUser}. */
export interface NewUser {
  /** The account name (1–20 characters, see {@linkcode checkAccountName}). */
  name: string;
  /** Its password (1–256 characters). */
  password: string;
  /** A comment, e.g. a marker identifying webstream's pool accounts. */
  comment?: string;
  /** `UF_*` flags; default {@linkcode POOL_ACCOUNT_FLAGS}. UF_SCRIPT is always added. */
  flags?: number;
}

/** An account as NetUserGetInfo level 1 reports it. */
export interface NetUser {
  /** Its name. */
  name: string;
  /** Its comment ("" when none). */
  comment: string;
  /** Its `UF_*` flags. */
  flags: number;
  /** `USER_PRIV_GUEST`, `USER_PRIV_USER` or `USER_PRIV_ADMIN`. */
  priv: number;
  /** Its home directory ("" when none). */
  homeDir: string;
  /** Its logon script path ("" when none). */
  scriptPath: string;
  /** Seconds since its password was last changed. */
  passwordAge: number;
}

function netError(fn: string, status: number, parmErr?: number): NetApiError {
  const error = new NetApiError(fn, status);
  if (status === ERROR_INVALID_PARAMETER && parmErr) {
    error.message += `; parm_err ${parmErr} (${
      USER_PARMNUM_NAMES[parmErr] ?? "unknown field"
    })`;
  }
  return error;
}

/**
 * Typed netapi32 calls on the local computer. Every method that calls the
 * system is async (the calls are `nonblocking`); arguments are checked
 * before any call and bad ones throw `TypeError`.
 */
export class NetApi32 {
  readonly #n: NetApi32Symbols;

  /** Wraps raw netapi32 functions. */
  constructor(symbols: NetApi32Symbols) {
    this.#n = symbols;
  }

  /**
   * Creates a local account: USER_INFO_1 with `USER_PRIV_USER`, no home
   * directory or script path, `flags` (default
   * {@linkcode POOL_ACCOUNT_FLAGS}) plus `UF_SCRIPT`. Throws
   * {@linkcode NetApiError} (e.g. `NERR_UserExists`, `NERR_PasswordTooShort`).
   */
  async addUser(user: NewUser): Promise<void> {
    const name = wide(checkAccountName(user.name));
    const password = wide(checkPassword(user.password));
    const comment = user.comment === undefined
      ? null
      : wide(checkComment(user.comment));
    const flags = checkFlags(user.flags ?? POOL_ACCOUNT_FLAGS) | UF_SCRIPT;
    const info = encodeStruct(USER_INFO_1, {
      usri1_name: addressOf(name),
      usri1_password: addressOf(password),
      usri1_priv: USER_PRIV_USER,
      usri1_comment: comment ? addressOf(comment) : 0n,
      usri1_flags: flags,
    });
    const parmErr = new Uint8Array(4);
    let status: number;
    try {
      status = await holding(this.#n.NetUserAdd(null, 1, info, parmErr), [
        name,
        password,
        comment,
        info,
        parmErr,
      ]);
    } finally {
      password.fill(0); // do not leave the secret in memory
    }
    if (status !== NERR_SUCCESS) {
      throw netError("NetUserAdd", status, viewOf(parmErr).getUint32(0, true));
    }
  }

  /** Resets an account's password (NetUserSetInfo level 1003). */
  async setPassword(name: string, password: string): Promise<void> {
    const user = wide(checkAccountName(name));
    const secret = wide(checkPassword(password));
    const info = encodeStruct(USER_INFO_1003, {
      usri1003_password: addressOf(secret),
    });
    const parmErr = new Uint8Array(4);
    let status: number;
    try {
      status = await holding(
        this.#n.NetUserSetInfo(null, user, 1003, info, parmErr),
        [user, secret, info, parmErr],
      );
    } finally {
      secret.fill(0);
    }
    if (status !== NERR_SUCCESS) {
      throw netError(
        "NetUserSetInfo",
        status,
        viewOf(parmErr).getUint32(0, true),
      );
    }
  }

  /**
   * Sets an account's `UF_*` flags (NetUserSetInfo level 1008), e.g. with
   * `UF_ACCOUNTDISABLE` to lock it; `UF_SCRIPT` is always added.
   */
  async setFlags(name: string, flags: number): Promise<void> {
    const user = wide(checkAccountName(name));
    const info = encodeStruct(USER_INFO_1008, {
      usri1008_flags: checkFlags(flags) | UF_SCRIPT,
    });
    const parmErr = new Uint8Array(4);
    const status = await holding(
      this.#n.NetUserSetInfo(null, user, 1008, info, parmErr),
      [user, info, parmErr],
    );
    if (status !== NERR_SUCCESS) {
      throw netError(
        "NetUserSetInfo",
        status,
        viewOf(parmErr).getUint32(0, true),
      );
    }
  }

  /**
   * An account's details (NetUserGetInfo level 1), or undefined when there
   * is no such account (`NERR_UserNotFound`). Use the comment and flags to
   * refuse touching an account webstream did not create.
   */
  async getUser(name: string): Promise<NetUser | undefined> {
    const user = wide(checkAccountName(name));
    const out = new OutParam();
    const status = await holding(
      this.#n.NetUserGetInfo(null, user, 1, out.bytes),
      [user, out],
    );
    if (status === NERR_USER_NOT_FOUND) return undefined;
    if (status !== NERR_SUCCESS) throw netError("NetUserGetInfo", status);
    const buffer = out.pointer();
    if (buffer === null) {
      throw new Error("NetUserGetInfo succeeded but returned no buffer");
    }
    let result: NetUser;
    let freed = NERR_SUCCESS;
    try {
      const s = readStruct(
        viewOf(copyFrom(buffer, USER_INFO_1.size)),
        USER_INFO_1,
      );
      result = {
        name: readWide(pointerAt(s.usri1_name)),
        comment: readWide(pointerAt(s.usri1_comment)),
        flags: Number(s.usri1_flags),
        priv: Number(s.usri1_priv),
        homeDir: readWide(pointerAt(s.usri1_home_dir)),
        scriptPath: readWide(pointerAt(s.usri1_script_path)),
        passwordAge: Number(s.usri1_password_age),
      };
    } finally {
      freed = this.#n.NetApiBufferFree(buffer);
    }
    if (freed !== NERR_SUCCESS) throw netError("NetApiBufferFree", freed);
    return result;
  }

  /** Deletes an account; false when it did not exist (`NERR_UserNotFound`). */
  async deleteUser(name: string): Promise<boolean> {
    const user = wide(checkAccountName(name));
    const status = await holding(this.#n.NetUserDel(null, user), [user]);
    if (status === NERR_USER_NOT_FOUND) return false;
    if (status !== NERR_SUCCESS) throw netError("NetUserDel", status);
    return true;
  }

  /**
   * Adds accounts, given as binary SIDs, to a local group (by its name:
   * resolve localized ones such as {@linkcode REMOTE_DESKTOP_USERS_SID}
   * with LookupAccountSidW). Being a member already is not an error; since
   * NetLocalGroupAddMembers then adds none of the batch, the members are
   * retried one by one. Returns how many were added. An unknown group
   * throws `NERR_GroupNotFound` or `ERROR_NO_SUCH_ALIAS`.
   */
  async addGroupMembers(
    group: string,
    sids: readonly Uint8Array[],
  ): Promise<number> {
    const groupName = wide(checkGroupName(group));
    if (sids.length === 0) throw new TypeError("no SIDs to add");
    const copies = sids.map((sid, i) => {
      if (!isValidSid(sid)) {
        throw new TypeError(`SID #${i} is not a valid binary SID`);
      }
      return Uint8Array.from(sid);
    });
    const status = await this.#addMembers(groupName, copies);
    if (status === NERR_SUCCESS) return copies.length;
    if (status !== ERROR_MEMBER_IN_ALIAS) {
      throw netError("NetLocalGroupAddMembers", status);
    }
    if (copies.length === 1) return 0;
    let added = 0;
    for (const sid of copies) {
      const one = await this.#addMembers(groupName, [sid]);
      if (one === NERR_SUCCESS) added++;
      else if (one !== ERROR_MEMBER_IN_ALIAS) {
        throw netError("NetLocalGroupAddMembers", one);
      }
    }
    return added;
  }

  async #addMembers(
    group: Uint8Array<ArrayBuffer>,
    sids: Uint8Array<ArrayBuffer>[],
  ): Promise<number> {
    const entries = new Uint8Array(
      LOCALGROUP_MEMBERS_INFO_0.size * sids.length,
    );
    const view = viewOf(entries);
    sids.forEach((sid, i) =>
      view.setBigUint64(
        i * LOCALGROUP_MEMBERS_INFO_0.size +
          LOCALGROUP_MEMBERS_INFO_0.offsets.lgrmi0_sid,
        addressOf(sid),
        true,
      )
    );
    return await holding(
      this.#n.NetLocalGroupAddMembers(null, group, 0, entries, sids.length),
      [group, sids, entries],
    );
  }
}
