/**
 * A fake netapi32 over a small account database (SAM), implementing
 * {@linkcode NetApi32Symbols} with the documented `NET_API_STATUS` results:
 * `NERR_UserExists` on duplicates, `NERR_UserNotFound`, `NERR_GroupNotFound`
 * (or `ERROR_NO_SUCH_ALIAS`) for an unknown local group,
 * `ERROR_MEMBER_IN_ALIAS` (adding none of the batch) for an existing member,
 * `ERROR_INVALID_PARAMETER` with `parm_err` for a bad field.
 *
 * It decodes what the wrapper passes from real memory: the `LPWSTR`s inside
 * `USER_INFO_1` are read through their addresses, and it reads them after an
 * event-loop turn, as a `nonblocking` call on another thread would — so a
 * wrapper that laid a struct out wrong or let a string buffer go fails here.
 * `NetUserGetInfo` hands out a real `USER_INFO_1` with its strings in one
 * block that must be freed with `NetApiBufferFree` exactly once.
 *
 * @module
 */
import type { NetApi32Symbols } from "../../../ffi/windows/netapi32.ts";
import {
  ERROR_INVALID_PARAMETER,
  ERROR_MEMBER_IN_ALIAS,
  ERROR_NO_SUCH_MEMBER,
  LOCALGROUP_MEMBERS_INFO_0,
  NERR_GROUP_NOT_FOUND,
  NERR_USER_EXISTS,
  NERR_USER_NOT_FOUND,
  UF_SCRIPT,
  USER_INFO_1,
  USER_INFO_1003,
  USER_INFO_1008,
  USER_PRIV_USER,
} from "../../../ffi/windows/netapi32.ts";
import {
  isValidSid,
  sidFromString,
  sidToString,
} from "../../../ffi/windows/sid.ts";
import { readWide, wide } from "../../../ffi/windows/strings.ts";
import {
  copyFrom,
  encodeStruct,
  pointerAt,
  readStruct,
  viewOf,
} from "../../../ffi/windows/struct.ts";
import {
  bufferBytes,
  FakeHeap,
  offThread,
  readWideArg,
  writeAddress,
  writeU32,
} from "./fake_kernel32.ts";

/** `ERROR_INVALID_LEVEL`. */
export const ERROR_INVALID_LEVEL = 124;
/** `NERR_BadUsername`. */
export const NERR_BAD_USERNAME = 2202;
/** `NERR_GroupExists`. */
export const NERR_GROUP_EXISTS = 2223;
/** `NERR_PasswordTooShort`: the password policy refused the password. */
export const NERR_PASSWORD_TOO_SHORT = 2245;
/** `NERR_InvalidComputer`. */
export const NERR_INVALID_COMPUTER = 2351;
/** `USER_PRIV_PARMNUM`. */
export const USER_PRIV_PARMNUM = 5;
/** `USER_FLAGS_PARMNUM`. */
export const USER_FLAGS_PARMNUM = 8;

/** An account in the fake SAM. */
export interface FakeUser {
  /** Its name as created (lookups ignore case). */
  name: string;
  /** Its password. */
  password: string;
  /** Its comment. */
  comment: string;
  /** Its UF_* flags. */
  flags: number;
  /** Its privilege level. */
  priv: number;
  /** Home directory ("" for none). */
  homeDir: string;
  /** Logon script path ("" for none). */
  scriptPath: string;
  /** Its SID string (S-1-5-21-…-RID). */
  sid: string;
}

/** A local group in the fake SAM. */
export interface FakeGroup {
  /** Its name. */
  name: string;
  /** Its members' SID strings. */
  members: string[];
}

/** A recorded call (no passwords). */
export interface FakeNetCall {
  /** The function. */
  fn: string;
  /** The user or group name it was about. */
  name: string;
  /** The info level. */
  level?: number;
}

const MACHINE_DOMAIN = "S-1-5-21-1111111111-2222222222-3333333333";

/** A fake netapi32; pass `symbols` to the `NetApi32` wrapper. */
export class FakeNetApi32 {
  /** Accounts by lower-cased name. */
  readonly users: Map<string, FakeUser> = new Map();
  /** Local groups by lower-cased name. */
  readonly groups: Map<string, FakeGroup> = new Map();
  /** SID strings that resolve to an account besides the users (well-known ones). */
  readonly knownSids: Set<string> = new Set(["S-1-5-18", "S-1-5-4"]);
  /** Memory released by NetApiBufferFree. */
  readonly heap: FakeHeap = new FakeHeap("NetApiBufferFree");
  /** What NetLocalGroupAddMembers returns for an unknown group. */
  unknownGroupStatus: number = NERR_GROUP_NOT_FOUND;
  /** The password policy: returns false to refuse with NERR_PasswordTooShort. */
  passwordPolicy: (password: string) => boolean = (p) => p.length >= 8;
  /** A status the next call to `fn` returns instead of running (e.g. ERROR_ACCESS_DENIED). */
  readonly failNext: Map<string, number> = new Map();
  /** Every call, in order. */
  readonly calls: FakeNetCall[] = [];
  /** The raw functions. */
  readonly symbols: NetApi32Symbols;

  #nextRid = 1001;

  constructor() {
    this.symbols = this.#makeSymbols();
  }

  /** Adds a local group with optional members (SID strings). */
  addGroup(name: string, members: string[] = []): FakeGroup {
    const group = { name, members: [...members] };
    this.groups.set(name.toLowerCase(), group);
    return group;
  }

  /** Adds an account directly (as if it already existed). */
  addUser(user: Partial<FakeUser> & { name: string }): FakeUser {
    const full: FakeUser = {
      password: "preexisting-password",
      comment: "",
      flags: UF_SCRIPT | 0x0200,
      priv: USER_PRIV_USER,
      homeDir: "",
      scriptPath: "",
      sid: `${MACHINE_DOMAIN}-${this.#nextRid++}`,
      ...user,
    };
    this.users.set(full.name.toLowerCase(), full);
    return full;
  }

  /** The account named `name`, any case. */
  user(name: string): FakeUser | undefined {
    return this.users.get(name.toLowerCase());
  }

  /** Throws unless every buffer handed out was freed exactly once. */
  assertAllFreed(): void {
    this.heap.assertAllFreed();
  }

  #injected(fn: string): number | undefined {
    const status = this.failNext.get(fn);
    if (status !== undefined) this.failNext.delete(fn);
    return status;
  }

  #makeSymbols(): NetApi32Symbols {
    return {
      NetUserAdd: async (server, level, buf, parmErr) => {
        await offThread();
        if (server !== null) return NERR_INVALID_COMPUTER;
        const info = bufferBytes(buf);
        const s = readStruct(viewOf(info), USER_INFO_1);
        const name = readWide(pointerAt(s.usri1_name));
        this.calls.push({ fn: "NetUserAdd", name, level });
        const injected = this.#injected("NetUserAdd");
        if (injected !== undefined) return injected;
        if (level !== 1) return ERROR_INVALID_LEVEL;
        if (info.byteLength < USER_INFO_1.size) return ERROR_INVALID_PARAMETER;
        const bad = (parm: number) => {
          if (parmErr !== null) writeU32(parmErr, parm);
          return ERROR_INVALID_PARAMETER;
        };
        // NetUserAdd: "usri1_priv must be USER_PRIV_USER"; UF_SCRIPT "must be set".
        if (s.usri1_priv !== USER_PRIV_USER) return bad(USER_PRIV_PARMNUM);
        if (!(Number(s.usri1_flags) & UF_SCRIPT)) {
          return bad(USER_FLAGS_PARMNUM);
        }
        if (
          name === "" || name.length > 20 || /["/\\[\]:;|=,+*?<>@]/.test(name)
        ) {
          return NERR_BAD_USERNAME;
        }
        if (this.user(name)) return NERR_USER_EXISTS;
        if (this.groups.has(name.toLowerCase())) return NERR_GROUP_EXISTS;
        const password = readWide(pointerAt(s.usri1_password));
        if (!this.passwordPolicy(password)) return NERR_PASSWORD_TOO_SHORT;
        this.addUser({
          name,
          password,
          comment: readWide(pointerAt(s.usri1_comment)),
          flags: Number(s.usri1_flags) | 0x0200, // SAM adds UF_NORMAL_ACCOUNT
          priv: USER_PRIV_USER,
          homeDir: readWide(pointerAt(s.usri1_home_dir)),
          scriptPath: readWide(pointerAt(s.usri1_script_path)),
        });
        return 0;
      },
      NetUserSetInfo: async (server, username, level, buf, parmErr) => {
        await offThread();
        if (server !== null) return NERR_INVALID_COMPUTER;
        const name = readWideArg(username);
        this.calls.push({ fn: "NetUserSetInfo", name, level });
        const injected = this.#injected("NetUserSetInfo");
        if (injected !== undefined) return injected;
        const user = this.user(name);
        if (!user) return NERR_USER_NOT_FOUND;
        const info = viewOf(bufferBytes(buf));
        if (level === 1003) {
          const s = readStruct(info, USER_INFO_1003);
          const password = readWide(pointerAt(s.usri1003_password));
          if (!this.passwordPolicy(password)) return NERR_PASSWORD_TOO_SHORT;
          user.password = password;
          return 0;
        }
        if (level === 1008) {
          const flags = Number(readStruct(info, USER_INFO_1008).usri1008_flags);
          if (!(flags & UF_SCRIPT)) {
            if (parmErr !== null) writeU32(parmErr, USER_FLAGS_PARMNUM);
            return ERROR_INVALID_PARAMETER;
          }
          // The account-type bits are not settable through the flags.
          user.flags = (flags & ~0x3b00) | (user.flags & 0x3b00);
          return 0;
        }
        return ERROR_INVALID_LEVEL;
      },
      NetUserGetInfo: async (server, username, level, bufptr) => {
        await offThread();
        if (server !== null) return NERR_INVALID_COMPUTER;
        const name = readWideArg(username);
        this.calls.push({ fn: "NetUserGetInfo", name, level });
        const injected = this.#injected("NetUserGetInfo");
        if (injected !== undefined) return injected;
        if (level !== 1) return ERROR_INVALID_LEVEL;
        const user = this.user(name);
        if (!user) return NERR_USER_NOT_FOUND;
        writeAddress(bufptr, this.#userInfo1(user).address);
        return 0;
      },
      NetUserDel: async (server, username) => {
        await offThread();
        if (server !== null) return NERR_INVALID_COMPUTER;
        const name = readWideArg(username);
        this.calls.push({ fn: "NetUserDel", name });
        const injected = this.#injected("NetUserDel");
        if (injected !== undefined) return injected;
        const user = this.user(name);
        if (!user) return NERR_USER_NOT_FOUND;
        this.users.delete(name.toLowerCase());
        // SAM drops the account's memberships with it.
        for (const g of this.groups.values()) {
          g.members = g.members.filter((m) => m !== user.sid);
        }
        return 0;
      },
      NetLocalGroupAddMembers: async (server, groupname, level, buf, total) => {
        await offThread();
        if (server !== null) return NERR_INVALID_COMPUTER;
        const name = readWideArg(groupname);
        this.calls.push({ fn: "NetLocalGroupAddMembers", name, level });
        const injected = this.#injected("NetLocalGroupAddMembers");
        if (injected !== undefined) return injected;
        if (level !== 0) return ERROR_INVALID_LEVEL;
        const group = this.groups.get(name.toLowerCase());
        if (!group) return this.unknownGroupStatus;
        const entries = viewOf(bufferBytes(buf));
        const sids: string[] = [];
        for (let i = 0; i < total; i++) {
          const address = entries.getBigUint64(
            i * LOCALGROUP_MEMBERS_INFO_0.size +
              LOCALGROUP_MEMBERS_INFO_0.offsets.lgrmi0_sid,
            true,
          );
          const sid = readSid(pointerAt(address));
          if (sid === undefined) return ERROR_INVALID_PARAMETER;
          sids.push(sid);
        }
        const known = new Set([
          ...this.knownSids,
          ...[...this.users.values()].map((u) => u.sid),
        ]);
        if (sids.some((s) => !known.has(s))) return ERROR_NO_SUCH_MEMBER;
        // All or nothing: one existing member fails the whole batch.
        if (sids.some((s) => group.members.includes(s))) {
          return ERROR_MEMBER_IN_ALIAS;
        }
        group.members.push(...sids);
        return 0;
      },
      NetApiBufferFree: (pointer) => {
        if (pointer === null) return 0;
        this.heap.free(pointer);
        return 0;
      },
    };
  }

  // One block: the struct, then its strings, as the real API lays it out.
  #userInfo1(user: FakeUser) {
    const strings = {
      name: wide(user.name),
      comment: wide(user.comment),
      homeDir: wide(user.homeDir),
      scriptPath: wide(user.scriptPath),
    };
    const size = USER_INFO_1.size +
      Object.values(strings).reduce((n, s) => n + s.byteLength, 0);
    const block = this.heap.alloc(size, "NetUserGetInfo USER_INFO_1");
    const base = block.address;
    const at: Record<string, bigint> = {};
    let offset = USER_INFO_1.size;
    for (const [key, s] of Object.entries(strings)) {
      block.bytes.set(s, offset);
      at[key] = base + BigInt(offset);
      offset += s.byteLength;
    }
    block.bytes.set(
      encodeStruct(USER_INFO_1, {
        usri1_name: at.name,
        usri1_password: 0n, // never returned
        usri1_password_age: 3600,
        usri1_priv: user.priv,
        usri1_home_dir: at.homeDir,
        usri1_comment: at.comment,
        usri1_flags: user.flags,
        usri1_script_path: at.scriptPath,
      }),
    );
    return block;
  }
}

/** The SID string of the binary SID at `pointer` (undefined if malformed). */
function readSid(pointer: Deno.PointerValue): string | undefined {
  if (pointer === null) return undefined;
  const header = copyFrom(pointer, 8);
  if (header[0] !== 1 || header[1] > 15) return undefined;
  const sid = copyFrom(pointer, 8 + 4 * header[1]);
  return isValidSid(sid) ? sidToString(sid) : undefined;
}

/** The binary SID of a fake account, for addGroupMembers. */
export function fakeUserSid(user: FakeUser): Uint8Array {
  return sidFromString(user.sid);
}
