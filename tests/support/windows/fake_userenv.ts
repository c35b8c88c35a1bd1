/**
 * A fake userenv implementing {@linkcode UserEnvSymbols}:
 * `CreateEnvironmentBlock` hands out a real double-NUL-terminated UTF-16
 * block (the system variables, then the token's `environment`, then this
 * process's when inheriting) that must be released with
 * `DestroyEnvironmentBlock` exactly once; tokens are `"token"` handles of the
 * shared {@linkcode FakeKernel32} (as the fake wtsapi32 creates them).
 * `DeleteProfileW` deletes from a profile table: `ERROR_FILE_NOT_FOUND` for
 * an unknown SID, a profile's `failWith` code otherwise (e.g.
 * `ERROR_ACCESS_DENIED` while it is loaded). It is `nonblocking`, so its
 * errors are recorded off-thread only. Given a fake advapi32's registry,
 * profiles added with {@linkcode FakeUserEnv.addProfile} also have their
 * ProfileList key (`HKLM\PROFILE_LIST\<SID>`, with `ProfileImagePath`),
 * which a successful delete removes, as Windows does.
 *
 * @module
 */
import {
  PROFILE_LIST,
  type UserEnvSymbols,
} from "../../../ffi/windows/userenv.ts";
import { wide, wideList } from "../../../ffi/windows/strings.ts";
import { type FakeAdvapi32, FakeKey, HKLM } from "./fake_advapi32.ts";
import {
  type BufferArg,
  bufferBytes,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  FakeHeap,
  type FakeKernel32,
  offThread,
  readU32,
  readWideArg,
  writeAddress,
  writeU32,
} from "./fake_kernel32.ts";

/** `ERROR_FILE_NOT_FOUND`. */
export const ERROR_FILE_NOT_FOUND = 2;
/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;

/** A user profile in the fake. */
export interface FakeProfile {
  /** Its folder. */
  path: string;
  /** A code DeleteProfileW fails with (the profile stays). */
  failWith?: number;
}

/** A fake userenv; pass `symbols` and a Kernel32 over `kernel32.symbols` to `UserEnv`. */
export class FakeUserEnv {
  /** The system variables every block starts with. */
  systemEnvironment: string[] = [
    "ALLUSERSPROFILE=C:\\ProgramData",
    "SystemRoot=C:\\Windows",
  ];
  /** This process's variables, added when bInherit is TRUE. */
  processEnvironment: string[] = ["WEBSTREAM_ROLE=backend"];
  /** Profiles by SID string. */
  readonly profiles: Map<string, FakeProfile> = new Map();
  /** The profiles folder. */
  profilesDirectory = "C:\\Users";
  /** Memory released by DestroyEnvironmentBlock. */
  readonly heap: FakeHeap = new FakeHeap("DestroyEnvironmentBlock");
  /** SIDs DeleteProfileW was called with, in order. */
  readonly deletes: string[] = [];
  /** The raw functions. */
  readonly symbols: UserEnvSymbols;
  readonly #k: FakeKernel32;
  readonly #registry?: FakeAdvapi32;

  /**
   * A fake that reads tokens and sets last errors in `kernel32`; with
   * `registry`, profiles have ProfileList keys there.
   */
  constructor(
    kernel32: FakeKernel32,
    options: { registry?: FakeAdvapi32 } = {},
  ) {
    this.#k = kernel32;
    this.#registry = options.registry;
    this.symbols = this.#makeSymbols();
  }

  /** Adds a profile (and, with a registry, its ProfileList key). */
  addProfile(sid: string, profile: FakeProfile): FakeProfile {
    this.profiles.set(sid, profile);
    const list = this.#profileList(true);
    if (list) {
      const key = new FakeKey(sid);
      key.values.set("profileimagepath", {
        name: "ProfileImagePath",
        type: 2, // REG_EXPAND_SZ
        data: wide(profile.path),
      });
      list.subkeys.set(sid.toLowerCase(), key);
    }
    return profile;
  }

  /** Whether Windows still has a profile for `sid`: its ProfileList key, or else the table. */
  profileExists(sid: string): boolean {
    const list = this.#profileList(false);
    return list ? list.subkeys.has(sid.toLowerCase()) : this.profiles.has(sid);
  }

  /** The ProfileList key in the registry, if there is a registry (created when asked). */
  #profileList(create: boolean): FakeKey | undefined {
    const hklm = this.#registry?.roots.get(HKLM);
    if (!hklm) return undefined;
    let key = hklm;
    for (const part of PROFILE_LIST.split("\\")) {
      let next = key.subkeys.get(part.toLowerCase());
      if (!next) {
        if (!create) return undefined;
        next = new FakeKey(part);
        key.subkeys.set(part.toLowerCase(), next);
      }
      key = next;
    }
    return key;
  }

  /** Throws unless every environment block was destroyed exactly once. */
  assertAllFreed(): void {
    this.heap.assertAllFreed();
  }

  // The status DeleteProfileW ends with: 0 for success, else a Win32 code.
  #delete(sid: BufferArg, path: BufferArg, computer: BufferArg): number {
    const s = readWideArg(sid);
    this.deletes.push(s);
    if (path !== null || computer !== null) return ERROR_INVALID_PARAMETER;
    const profile = this.profiles.get(s);
    if (!profile) return ERROR_FILE_NOT_FOUND;
    if (profile.failWith !== undefined) return profile.failWith;
    this.profiles.delete(s);
    this.#profileList(false)?.subkeys.delete(s.toLowerCase());
    return 0;
  }

  #makeSymbols(): UserEnvSymbols {
    const k = this.#k;
    return {
      CreateEnvironmentBlock: (out, token, inherit) => {
        let vars = [...this.systemEnvironment];
        if (token !== null) {
          const h = k.handle(token, "token");
          if (!h) return k.fail(ERROR_INVALID_HANDLE);
          vars = merge(vars, (h.data.environment as string[]) ?? []);
        }
        if (inherit) vars = merge(vars, this.processEnvironment);
        const block = this.heap.alloc(wideList(vars), "CreateEnvironmentBlock");
        writeAddress(out, block.address);
        return 1;
      },
      DestroyEnvironmentBlock: (block) => {
        if (block === null || !this.heap.find(block)) {
          return k.fail(ERROR_INVALID_PARAMETER);
        }
        this.heap.free(block);
        return 1;
      },
      DeleteProfileW: async (sid, path, computer) => {
        await offThread();
        const status = this.#delete(sid, path, computer);
        return status === 0 ? 1 : k.failOffThread(status);
      },
      GetProfilesDirectoryW: (dir, size) => {
        const needed = this.profilesDirectory.length + 1;
        const have = readU32(size);
        if (dir === null || have < needed) {
          writeU32(size, needed);
          return k.fail(ERROR_INSUFFICIENT_BUFFER);
        }
        const bytes = bufferBytes(dir);
        if (bytes.byteLength < have * 2) {
          throw new Error("fake: lpcchSize is larger than the buffer passed");
        }
        bytes.set(wide(this.profilesDirectory));
        writeU32(size, needed);
        return 1;
      },
    };
  }
}

/** Later `NAME=value` entries replace earlier ones of the same name (any case). */
function merge(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const v of [...base, ...extra]) {
    out.set(v.slice(0, v.indexOf("=", 1)).toUpperCase(), v);
  }
  return [...out.values()];
}
