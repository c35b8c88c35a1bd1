/**
 * Browser keys to Windows: `KeyboardEvent.code` (the physical key) to its
 * set-1 scan code (what `SendInput` with `KEYEVENTF_SCANCODE` takes, so the
 * session's keyboard layout decides the character, as on a local keyboard)
 * and to the virtual key of that position on a US layout.
 *
 * Scan codes follow Chromium's `dom_code_data.inc` (the Windows column);
 * `extended` is its `0xe0` prefix, sent as `KEYEVENTF_EXTENDEDKEY`.
 * Virtual keys are winuser.h's `VK_*` (OEM keys by their US position:
 * Semicolon is `VK_OEM_1`, and so on).
 *
 * @module
 */

/** How one physical key is injected. */
export interface VirtualKey {
  /** Set-1 scan code without the `0xe0` prefix. */
  scan: number;
  /** Needs `KEYEVENTF_EXTENDEDKEY` (the `0xe0` prefix). */
  extended: boolean;
  /** The virtual key at this position on a US layout. */
  vk: number;
  /**
   * Inject by virtual key, not scan code: Pause (its real sequence,
   * `e1 1d 45`, cannot be sent as one scan code) and NumLock (whose scan
   * code alone reads as Pause with Ctrl; `keybd_event(VK_NUMLOCK, 0x45,
   * KEYEVENTF_EXTENDEDKEY)` is Microsoft's own way to toggle it).
   */
  byVk?: boolean;
}

function key(
  scan: number,
  vk: number,
  options: { byVk?: boolean } = {},
): VirtualKey {
  const entry: VirtualKey = {
    scan: scan & 0xff,
    extended: (scan & 0xff00) === 0xe000,
    vk,
  };
  if (options.byVk) entry.byVk = true;
  return Object.freeze(entry);
}

/** Virtual-key codes the tables and the sink name (winuser.h). */
export const VK = Object.freeze({
  BACK: 0x08,
  TAB: 0x09,
  RETURN: 0x0d,
  SHIFT: 0x10,
  CONTROL: 0x11,
  MENU: 0x12,
  PAUSE: 0x13,
  CAPITAL: 0x14,
  KANA: 0x15,
  HANGUL: 0x15,
  HANJA: 0x19,
  ESCAPE: 0x1b,
  CONVERT: 0x1c,
  NONCONVERT: 0x1d,
  SPACE: 0x20,
  PRIOR: 0x21,
  NEXT: 0x22,
  END: 0x23,
  HOME: 0x24,
  LEFT: 0x25,
  UP: 0x26,
  RIGHT: 0x27,
  DOWN: 0x28,
  SNAPSHOT: 0x2c,
  INSERT: 0x2d,
  DELETE: 0x2e,
  HELP: 0x2f,
  LWIN: 0x5b,
  RWIN: 0x5c,
  APPS: 0x5d,
  SLEEP: 0x5f,
  NUMPAD0: 0x60,
  MULTIPLY: 0x6a,
  ADD: 0x6b,
  SEPARATOR: 0x6c,
  SUBTRACT: 0x6d,
  DECIMAL: 0x6e,
  DIVIDE: 0x6f,
  F1: 0x70,
  NUMLOCK: 0x90,
  OEM_NEC_EQUAL: 0x92,
  SCROLL: 0x91,
  LSHIFT: 0xa0,
  RSHIFT: 0xa1,
  LCONTROL: 0xa2,
  RCONTROL: 0xa3,
  LMENU: 0xa4,
  RMENU: 0xa5,
  BROWSER_BACK: 0xa6,
  BROWSER_FORWARD: 0xa7,
  BROWSER_REFRESH: 0xa8,
  BROWSER_STOP: 0xa9,
  BROWSER_SEARCH: 0xaa,
  BROWSER_FAVORITES: 0xab,
  BROWSER_HOME: 0xac,
  VOLUME_MUTE: 0xad,
  VOLUME_DOWN: 0xae,
  VOLUME_UP: 0xaf,
  MEDIA_NEXT_TRACK: 0xb0,
  MEDIA_PREV_TRACK: 0xb1,
  MEDIA_STOP: 0xb2,
  MEDIA_PLAY_PAUSE: 0xb3,
  LAUNCH_MAIL: 0xb4,
  LAUNCH_MEDIA_SELECT: 0xb5,
  LAUNCH_APP1: 0xb6,
  LAUNCH_APP2: 0xb7,
  OEM_1: 0xba,
  OEM_PLUS: 0xbb,
  OEM_COMMA: 0xbc,
  OEM_MINUS: 0xbd,
  OEM_PERIOD: 0xbe,
  OEM_2: 0xbf,
  OEM_3: 0xc0,
  ABNT_C1: 0xc1,
  OEM_4: 0xdb,
  OEM_5: 0xdc,
  OEM_6: 0xdd,
  OEM_7: 0xde,
  OEM_102: 0xe2,
});

function buildTable(): Record<string, VirtualKey> {
  const t: Record<string, VirtualKey> = {};
  // Letters: scan codes by QWERTY row, VK_A…VK_Z are their ASCII capitals.
  const letters: Record<string, number> = {
    Q: 0x10,
    W: 0x11,
    E: 0x12,
    R: 0x13,
    T: 0x14,
    Y: 0x15,
    U: 0x16,
    I: 0x17,
    O: 0x18,
    P: 0x19,
    A: 0x1e,
    S: 0x1f,
    D: 0x20,
    F: 0x21,
    G: 0x22,
    H: 0x23,
    J: 0x24,
    K: 0x25,
    L: 0x26,
    Z: 0x2c,
    X: 0x2d,
    C: 0x2e,
    V: 0x2f,
    B: 0x30,
    N: 0x31,
    M: 0x32,
  };
  for (const [letter, scan] of Object.entries(letters)) {
    t[`Key${letter}`] = key(scan, letter.charCodeAt(0));
  }
  // Digit1…Digit9 are 0x02…0x0a, Digit0 0x0b; VK_0…VK_9 are ASCII.
  for (let d = 1; d <= 9; d++) t[`Digit${d}`] = key(0x01 + d, 0x30 + d);
  t.Digit0 = key(0x0b, 0x30);
  // F1–F10 are 0x3b…0x44, F11/F12 0x57/0x58, F13–F23 0x64…0x6e, F24 0x76.
  for (let f = 1; f <= 10; f++) t[`F${f}`] = key(0x3a + f, VK.F1 + f - 1);
  t.F11 = key(0x57, VK.F1 + 10);
  t.F12 = key(0x58, VK.F1 + 11);
  for (let f = 13; f <= 23; f++) t[`F${f}`] = key(0x64 + f - 13, VK.F1 + f - 1);
  t.F24 = key(0x76, VK.F1 + 23);
  // Numpad digits: 7 8 9 / 4 5 6 / 1 2 3 / 0 by scan code.
  const numpad = [0x52, 0x4f, 0x50, 0x51, 0x4b, 0x4c, 0x4d, 0x47, 0x48, 0x49];
  numpad.forEach((scan, n) => t[`Numpad${n}`] = key(scan, VK.NUMPAD0 + n));
  Object.assign(t, {
    Escape: key(0x01, VK.ESCAPE),
    Minus: key(0x0c, VK.OEM_MINUS),
    Equal: key(0x0d, VK.OEM_PLUS),
    Backspace: key(0x0e, VK.BACK),
    Tab: key(0x0f, VK.TAB),
    BracketLeft: key(0x1a, VK.OEM_4),
    BracketRight: key(0x1b, VK.OEM_6),
    Enter: key(0x1c, VK.RETURN),
    ControlLeft: key(0x1d, VK.LCONTROL),
    Semicolon: key(0x27, VK.OEM_1),
    Quote: key(0x28, VK.OEM_7),
    Backquote: key(0x29, VK.OEM_3),
    ShiftLeft: key(0x2a, VK.LSHIFT),
    Backslash: key(0x2b, VK.OEM_5),
    Comma: key(0x33, VK.OEM_COMMA),
    Period: key(0x34, VK.OEM_PERIOD),
    Slash: key(0x35, VK.OEM_2),
    ShiftRight: key(0x36, VK.RSHIFT),
    NumpadMultiply: key(0x37, VK.MULTIPLY),
    AltLeft: key(0x38, VK.LMENU),
    Space: key(0x39, VK.SPACE),
    CapsLock: key(0x3a, VK.CAPITAL),
    NumLock: key(0xe045, VK.NUMLOCK, { byVk: true }),
    ScrollLock: key(0x46, VK.SCROLL),
    NumpadSubtract: key(0x4a, VK.SUBTRACT),
    NumpadAdd: key(0x4e, VK.ADD),
    NumpadDecimal: key(0x53, VK.DECIMAL),
    IntlBackslash: key(0x56, VK.OEM_102),
    NumpadEqual: key(0x59, VK.OEM_NEC_EQUAL),
    KanaMode: key(0x70, VK.KANA),
    Lang2: key(0x71, VK.HANJA),
    Lang1: key(0x72, VK.HANGUL),
    IntlRo: key(0x73, VK.ABNT_C1),
    Convert: key(0x79, VK.CONVERT),
    NonConvert: key(0x7b, VK.NONCONVERT),
    IntlYen: key(0x7d, VK.OEM_5),
    NumpadComma: key(0x7e, VK.SEPARATOR),
    Pause: key(0x45, VK.PAUSE, { byVk: true }),
    // Extended (0xe0-prefixed) keys.
    MediaTrackPrevious: key(0xe010, VK.MEDIA_PREV_TRACK),
    MediaTrackNext: key(0xe019, VK.MEDIA_NEXT_TRACK),
    NumpadEnter: key(0xe01c, VK.RETURN),
    ControlRight: key(0xe01d, VK.RCONTROL),
    AudioVolumeMute: key(0xe020, VK.VOLUME_MUTE),
    LaunchApp2: key(0xe021, VK.LAUNCH_APP2),
    MediaPlayPause: key(0xe022, VK.MEDIA_PLAY_PAUSE),
    MediaStop: key(0xe024, VK.MEDIA_STOP),
    AudioVolumeDown: key(0xe02e, VK.VOLUME_DOWN),
    AudioVolumeUp: key(0xe030, VK.VOLUME_UP),
    BrowserHome: key(0xe032, VK.BROWSER_HOME),
    NumpadDivide: key(0xe035, VK.DIVIDE),
    PrintScreen: key(0xe037, VK.SNAPSHOT),
    AltRight: key(0xe038, VK.RMENU),
    Help: key(0xe03b, VK.HELP),
    Home: key(0xe047, VK.HOME),
    ArrowUp: key(0xe048, VK.UP),
    PageUp: key(0xe049, VK.PRIOR),
    ArrowLeft: key(0xe04b, VK.LEFT),
    ArrowRight: key(0xe04d, VK.RIGHT),
    End: key(0xe04f, VK.END),
    ArrowDown: key(0xe050, VK.DOWN),
    PageDown: key(0xe051, VK.NEXT),
    Insert: key(0xe052, VK.INSERT),
    Delete: key(0xe053, VK.DELETE),
    MetaLeft: key(0xe05b, VK.LWIN),
    MetaRight: key(0xe05c, VK.RWIN),
    ContextMenu: key(0xe05d, VK.APPS),
    Sleep: key(0xe05f, VK.SLEEP),
    BrowserSearch: key(0xe065, VK.BROWSER_SEARCH),
    BrowserFavorites: key(0xe066, VK.BROWSER_FAVORITES),
    BrowserRefresh: key(0xe067, VK.BROWSER_REFRESH),
    BrowserStop: key(0xe068, VK.BROWSER_STOP),
    BrowserForward: key(0xe069, VK.BROWSER_FORWARD),
    BrowserBack: key(0xe06a, VK.BROWSER_BACK),
    LaunchApp1: key(0xe06b, VK.LAUNCH_APP1),
    LaunchMail: key(0xe06c, VK.LAUNCH_MAIL),
    MediaSelect: key(0xe06d, VK.LAUNCH_MEDIA_SELECT),
  });
  return t;
}

/** `KeyboardEvent.code` → how Windows gets that physical key. */
export const VIRTUAL_KEYS: Readonly<Record<string, VirtualKey>> = Object
  .freeze(buildTable());

/** The key at `code`, undefined when Windows has none for it. */
export function virtualKey(code: string): VirtualKey | undefined {
  return Object.hasOwn(VIRTUAL_KEYS, code) ? VIRTUAL_KEYS[code] : undefined;
}

/**
 * `KeyboardEvent.key` names of keys that arrive without a `code` (virtual
 * keyboards): injected by virtual key. Names that are also codes
 * (`Enter`, `ArrowLeft`, `F5` …) come from {@linkcode VIRTUAL_KEYS}.
 */
const NAMED_ONLY: Readonly<Record<string, VirtualKey>> = Object.freeze({
  Shift: key(0x2a, VK.LSHIFT),
  Control: key(0x1d, VK.LCONTROL),
  Alt: key(0x38, VK.LMENU),
  AltGraph: key(0xe038, VK.RMENU),
  Meta: key(0xe05b, VK.LWIN),
});

/** The key named `key` (a `KeyboardEvent.key` that is no character). */
export function namedVirtualKey(name: string): VirtualKey | undefined {
  if (Object.hasOwn(NAMED_ONLY, name)) return NAMED_ONLY[name];
  // Key names that are codes too name the same key ("Enter", "F5").
  if (/^(Key[A-Z]|Digit\d|Numpad\w*)$/.test(name)) return undefined;
  return virtualKey(name);
}

/** Whether `key` (a `KeyboardEvent.key`) is one character, not a key name. */
export function isCharacter(key: string): boolean {
  return key.length > 0 && [...key].length === 1;
}

/** The scan code with its `0xe0` prefix, as `MAPVK_VSC_TO_VK_EX` takes it. */
export function prefixedScan(entry: VirtualKey): number {
  return entry.extended ? 0xe000 | entry.scan : entry.scan;
}
