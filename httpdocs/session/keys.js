// @ts-check
/**
 * Keyboard rules of the page with no DOM in them (so Deno tests them
 * directly): which key events belong to a composition and are not sent,
 * and the KEY messages that type a composed text in the session.
 *
 * @module
 */

/** @typedef {import("./protocol.js").ClientMessage} ClientMessage */

/**
 * The KEY messages that type `text` in the session: a press and a release
 * per character (code point), with an empty `code` so the session types the
 * character itself whatever its layout. Line breaks become Enter, tabs Tab;
 * other control characters are dropped.
 *
 * @param {string} text
 * @returns {ClientMessage[]}
 */
export function textKeys(text) {
  /** @type {ClientMessage[]} */
  const out = [];
  for (const character of text.replaceAll("\r\n", "\n")) {
    const key = character === "\n" || character === "\r"
      ? "Enter"
      : character === "\t"
      ? "Tab"
      : character;
    const point = /** @type {number} */ (key.codePointAt(0));
    if (key.length === 1 && (point < 0x20 || (point >= 0x7f && point < 0xa0))) {
      continue;
    }
    out.push({ type: "key", down: true, code: "", key });
    out.push({ type: "key", down: false, code: "", key });
  }
  return out;
}

/**
 * Whether a key event belongs to an input method's composition (its text
 * arrives with `compositionend`) or is a dead key (the browser composes it
 * with the next key): such events are not sent.
 *
 * @param {{ isComposing: boolean, key: string, keyCode: number }} event
 * @returns {boolean}
 */
export function composes(event) {
  return event.isComposing || event.keyCode === 229 ||
    event.key === "Process" || event.key === "Dead";
}
