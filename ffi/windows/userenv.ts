/**
 * userenv: a user's environment block (for CreateProcessAsUserW with
 * `CREATE_UNICODE_ENVIRONMENT`) and user profile deletion (recycling a pool
 * account purges its profile).
 *
 * `DeleteProfileW` removes a whole profile folder, so it runs
 * `nonblocking`. It reports failure only as `FALSE` + `GetLastError`, which
 * is on the pool thread (see errors.ts). To tell a missing profile from a
 * real failure, the caller says whether the profile is still there
 * afterwards (Windows' record of it: the ProfileList key under
 * `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\<SID>`,
 * which advapi32's `keyExists` reads): gone means there was nothing (left)
 * to delete.
 *
 * @module
 */
import { Win32Error } from "./errors.ts";
import type { Kernel32 } from "./kernel32.ts";
import { fromWide, readWideList, wide } from "./strings.ts";
import { holding, OutParam } from "./struct.ts";

/** userenv's symbols used by webstream. */
export const USERENV_SYMBOLS = {
  // (LPVOID* lpEnvironment, HANDLE hToken, BOOL bInherit) -> BOOL
  CreateEnvironmentBlock: {
    parameters: ["buffer", "pointer", "i32"],
    result: "i32",
  },
  DestroyEnvironmentBlock: { parameters: ["pointer"], result: "i32" },
  // (LPCWSTR lpSidString, LPCWSTR lpProfilePath, LPCWSTR lpComputerName):
  // deletes the profile folder tree and its registry entries.
  DeleteProfileW: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  // (LPWSTR lpProfileDir, LPDWORD lpcchSize) -> BOOL
  GetProfilesDirectoryW: { parameters: ["buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw userenv functions. */
export type UserEnvSymbols = Deno.DynamicLibrary<
  typeof USERENV_SYMBOLS
>["symbols"];

/** Opens userenv.dll (Windows only). */
export function openUserEnv(): UserEnvSymbols {
  return Deno.dlopen("userenv.dll", USERENV_SYMBOLS).symbols;
}

/** `ERROR_FILE_NOT_FOUND`: DeleteProfileW's "no such profile". */
export const ERROR_FILE_NOT_FOUND = 2;
/** Where Windows records each profile, by SID string (under HKEY_LOCAL_MACHINE). */
export const PROFILE_LIST =
  "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList";
/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;

/** A SID string: `S-1-` then the authority and sub-authorities. */
const SID_STRING = /^S-1-\d+(-\d+){0,15}$/i;

function checkSidString(sid: string): string {
  if (typeof sid !== "string" || !SID_STRING.test(sid)) {
    throw new TypeError(`invalid SID string ${JSON.stringify(sid)}`);
  }
  return sid;
}

/** How {@linkcode UserEnv.deleteProfile} learns whether a profile remains. */
export interface DeleteProfileOptions {
  /**
   * Whether Windows still has a profile for `sid` (its ProfileList key
   * `PROFILE_LIST\<sid>` exists). Asked only after a failed delete.
   */
  profileExists(sid: string): boolean | Promise<boolean>;
}

/** Typed userenv calls; synchronous failures read GetLastError through `kernel32`. */
export class UserEnv {
  readonly #u: UserEnvSymbols;
  readonly #k: Kernel32;

  /** Wraps raw userenv functions; `kernel32` supplies GetLastError. */
  constructor(symbols: UserEnvSymbols, kernel32: Kernel32) {
    this.#u = symbols;
    this.#k = kernel32;
  }

  /**
   * Builds the environment of `token`'s user (null: the system variables
   * only; `inherit`: merged with this process's), passes the block to `fn`
   * — e.g. as CreateProcessAsUserW's lpEnvironment with
   * `CREATE_UNICODE_ENVIRONMENT` — and destroys it once `fn` returns (or
   * its promise settles).
   */
  withEnvironment<T>(
    token: Deno.PointerValue,
    fn: (block: Deno.PointerValue) => T,
    options: { inherit?: boolean } = {},
  ): T {
    const block = this.#create(token, options.inherit ?? false);
    let result: T;
    try {
      result = fn(block);
    } catch (error) {
      this.#destroyQuietly(block);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          this.#destroy(block);
          return value;
        },
        (error) => {
          this.#destroyQuietly(block);
          throw error;
        },
      ) as T;
    }
    this.#destroy(block);
    return result;
  }

  /** The environment of `token`'s user as `NAME=value` strings (for tests and logs). */
  environmentStrings(
    token: Deno.PointerValue,
    options: { inherit?: boolean } = {},
  ): string[] {
    return this.withEnvironment(token, (block) => readWideList(block), options);
  }

  /**
   * Deletes the profile (folder and registry entries) of the account with
   * SID `sid` (`S-1-5-21-…`) off the event loop. True when deleted. When the
   * call fails its code is not readable (see the module doc), so
   * `options.profileExists` decides: no profile left → false (there was
   * none, or nothing of it remains); still there → a `Win32Error` without a
   * code naming the SID (e.g. while the profile is loaded).
   */
  async deleteProfile(
    sid: string,
    options: DeleteProfileOptions,
  ): Promise<boolean> {
    const sidString = wide(checkSidString(sid));
    const ok = await holding(
      this.#u.DeleteProfileW(sidString, null, null),
      [sidString],
    );
    if (ok) return true;
    if (!await options.profileExists(sid)) return false;
    const error = new Win32Error("DeleteProfileW", undefined);
    error.message += `; the profile of ${sid} is still there`;
    throw error;
  }

  /** The folder holding the profiles (`C:\Users`). */
  profilesDirectory(): string {
    // First with no buffer: the call writes the size it needs.
    let chars = 0;
    for (let attempt = 1;; attempt++) {
      const buffer = chars ? new Uint8Array(chars * 2) : null;
      const size = Uint32Array.of(chars);
      if (this.#u.GetProfilesDirectoryW(buffer, size)) {
        if (buffer === null) {
          throw new Error("GetProfilesDirectoryW succeeded with no buffer");
        }
        return fromWide(buffer);
      }
      // The code is only reported: the size written back (WCHARs, the NUL
      // included) says whether the buffer was too small.
      const error = this.#k.fail("GetProfilesDirectoryW");
      if (size[0] <= chars || attempt >= 3) throw error;
      chars = size[0];
    }
  }

  #create(token: Deno.PointerValue, inherit: boolean): Deno.PointerValue {
    const out = new OutParam();
    if (!this.#u.CreateEnvironmentBlock(out.bytes, token, inherit ? 1 : 0)) {
      throw this.#k.fail("CreateEnvironmentBlock");
    }
    const block = out.pointer();
    if (block === null) {
      throw new Error("CreateEnvironmentBlock succeeded but returned no block");
    }
    return block;
  }

  // After fn failed: its error is the one to report.
  #destroyQuietly(block: Deno.PointerValue): void {
    try {
      this.#destroy(block);
    } catch {
      // already failing
    }
  }

  #destroy(block: Deno.PointerValue): void {
    if (!this.#u.DestroyEnvironmentBlock(block)) {
      throw this.#k.fail("DestroyEnvironmentBlock");
    }
  }
}
