// @ts-check
/// <reference lib="dom" />
/**
 * Input from the page to the session: keyboard, mouse, wheel and touch on
 * the session canvas become protocol messages, with coordinates in remote
 * screen pixels whatever the canvas' displayed scale.
 *
 * - Keys: every keydown/keyup is a KEY (the browser's default action is
 *   prevented, so Tab or Backspace stay in the session), except that
 *   Ctrl/Cmd+V is let through so the page receives the paste (the page sends
 *   the clipboard first, then the key, so the session pastes the new text).
 *   The keys go to a transparent text area over the canvas (the keyboard
 *   target {@linkcode Input.focus} focuses), so an input method can run.
 * - Dead keys (`key` "Dead") are not sent: the browser composes them with
 *   the next key, whose `key` is the composed character ("ê", "á"), and the
 *   session types that character. AltGr characters are sent the same way
 *   (their `key` is the character, "@" or "€").
 * - Input methods (IME): keys that belong to a composition (`isComposing`,
 *   key "Process", keyCode 229) are not sent; the composed text of
 *   `compositionend`, and text inserted with no key (emoji pickers, virtual
 *   keyboards), is typed in the session one character at a time as KEYs
 *   with an empty `code` (the session types each by its keysym).
 * - Pointer moves are coalesced to one POINTER per animation frame; presses
 *   and releases go at once.
 * - Wheel: one notch per 100 px (or per line) accumulated; positive dy is
 *   down.
 * - Touch: tap = left click, one-finger drag = move with the left button
 *   down, two-finger drag = wheel.
 * - Leaving the page (blur, hidden tab) sends RELEASE_ALL so no key or button
 *   stays stuck down in the session.
 *
 * @module
 */
import { composes, textKeys } from "./keys.js";
import { BUTTON } from "./protocol.js";

/** @typedef {import("./protocol.js").ClientMessage} ClientMessage */

/** Pixels of wheel travel per notch. */
export const WHEEL_NOTCH = 100;
/** Touch travel (CSS px) before a touch counts as a drag, not a tap. */
const TAP_SLOP = 8;

/**
 * Options of {@linkcode Input}.
 *
 * @typedef {{
 *   send: (message: ClientMessage) => void,
 *   screen: () => { width: number, height: number },
 * }} InputOptions
 */

/** Turns DOM input on one element into protocol messages. */
export class Input {
  /** @type {HTMLElement} */
  #element;
  /**
   * The keyboard target: a transparent text area beside the element, so an
   * input method can compose (it needs an editable element).
   * @type {HTMLTextAreaElement}
   */
  #keyboard;
  /** @type {InputOptions} */
  #options;
  /** @type {{ x: number, y: number, buttons: number } | undefined} */
  #pendingMove;
  #frame = 0;
  #wheelX = 0;
  #wheelY = 0;
  #lastX = 0;
  #lastY = 0;
  /** Active touches: pointerId → last client position. */
  /** @type {Map<number, { x: number, y: number, startX: number, startY: number }>} */
  #touches = new Map();
  /** "tap" until it moves, then "drag"; "scroll" with two fingers. */
  /** @type {"none" | "tap" | "drag" | "scroll"} */
  #touchMode = "none";
  /** @type {Array<[string, EventListener, EventTarget, AddEventListenerOptions?]>} */
  #listeners = [];

  /**
   * @param {HTMLElement} element
   * @param {InputOptions} options
   */
  constructor(element, options) {
    this.#element = element;
    this.#options = options;
    const on = (
      /** @type {EventTarget} */ target,
      /** @type {string} */ type,
      /** @type {(event: any) => void} */ listener,
      /** @type {AddEventListenerOptions} */ options = {},
    ) => {
      target.addEventListener(type, listener, options);
      this.#listeners.push([type, listener, target, options]);
    };
    this.#keyboard = document.createElement("textarea");
    this.#keyboard.className = "ws-keyboard";
    this.#keyboard.setAttribute("aria-label", "keyboard input");
    this.#keyboard.setAttribute("autocomplete", "off");
    this.#keyboard.setAttribute("autocapitalize", "off");
    this.#keyboard.spellcheck = false;
    element.after(this.#keyboard);
    for (const target of [element, this.#keyboard]) {
      on(target, "keydown", (e) => this.#key(e, true));
      on(target, "keyup", (e) => this.#key(e, false));
    }
    on(this.#keyboard, "compositionend", (e) => this.#compositionEnd(e));
    on(this.#keyboard, "input", (e) => this.#input(e));
    on(element, "pointermove", (e) => this.#pointerMove(e));
    on(element, "pointerdown", (e) => this.#pointerButton(e, true));
    on(element, "pointerup", (e) => this.#pointerButton(e, false));
    on(element, "pointercancel", (e) => this.#pointerButton(e, false));
    on(element, "wheel", (e) => this.#wheel(e), { passive: false });
    on(element, "contextmenu", (e) => e.preventDefault());
    on(globalThis, "blur", () => this.releaseAll());
    on(document, "visibilitychange", () => {
      if (document.visibilityState === "hidden") this.releaseAll();
    });
  }

  /** Gives the keyboard focus to the session (its keyboard target). */
  focus() {
    this.#keyboard.focus({ preventScroll: true });
  }

  /**
   * Types `text` in the session, character by character.
   *
   * @param {string} text
   */
  type(text) {
    for (const message of textKeys(text)) this.#options.send(message);
  }

  /** Releases every key and button in the session. */
  releaseAll() {
    this.#touches.clear();
    this.#touchMode = "none";
    this.#options.send({ type: "releaseAll" });
  }

  /** Stops listening. */
  destroy() {
    cancelAnimationFrame(this.#frame);
    for (const [type, listener, target, options] of this.#listeners) {
      target.removeEventListener(type, listener, options);
    }
    this.#listeners = [];
    this.#keyboard.remove();
  }

  /**
   * Client coordinates → remote screen pixels.
   *
   * @param {number} clientX
   * @param {number} clientY
   * @returns {{ x: number, y: number }}
   */
  toScreen(clientX, clientY) {
    const rect = this.#element.getBoundingClientRect();
    const { width, height } = this.#options.screen();
    if (!rect.width || !rect.height || !width || !height) return { x: 0, y: 0 };
    const x = Math.floor((clientX - rect.left) * width / rect.width);
    const y = Math.floor((clientY - rect.top) * height / rect.height);
    return {
      x: Math.max(0, Math.min(width - 1, x)),
      y: Math.max(0, Math.min(height - 1, y)),
    };
  }

  /**
   * @param {KeyboardEvent} event
   * @param {boolean} down
   */
  #key(event, down) {
    if (composes(event)) return;
    const message = /** @type {ClientMessage} */ ({
      type: "key",
      down,
      code: event.code,
      key: event.key,
    });
    const paste = (event.ctrlKey || event.metaKey) && !event.altKey &&
      event.code === "KeyV";
    if (paste && down) {
      // Let the browser fire "paste" (the page sends the clipboard during
      // it), then send the key, so the session pastes the new text.
      setTimeout(() => this.#options.send(message), 0);
      return;
    }
    event.preventDefault();
    this.#options.send(message);
  }

  /** @param {CompositionEvent} event */
  #compositionEnd(event) {
    if (event.data) this.type(event.data);
    this.#keyboard.value = "";
  }

  /**
   * Text inserted with no key the page sent (an emoji picker, a virtual
   * keyboard, `Input.insertText`); a composition's text comes with
   * `compositionend` instead.
   *
   * @param {InputEvent} event
   */
  #input(event) {
    if (event.isComposing) return;
    if (event.inputType === "insertText" && event.data) this.type(event.data);
    this.#keyboard.value = "";
  }

  /** @param {PointerEvent} event */
  #pointerMove(event) {
    if (event.pointerType === "touch") return this.#touchMove(event);
    const { x, y } = this.toScreen(event.clientX, event.clientY);
    this.#queueMove(x, y, event.buttons & 0x1f);
  }

  /**
   * @param {number} x
   * @param {number} y
   * @param {number} buttons
   */
  #queueMove(x, y, buttons) {
    this.#lastX = x;
    this.#lastY = y;
    const first = !this.#pendingMove;
    this.#pendingMove = { x, y, buttons };
    if (first) this.#frame = requestAnimationFrame(() => this.#flushMove());
  }

  #flushMove() {
    cancelAnimationFrame(this.#frame);
    const move = this.#pendingMove;
    this.#pendingMove = undefined;
    if (move) this.#options.send({ type: "pointer", ...move });
  }

  /**
   * @param {PointerEvent} event
   * @param {boolean} down
   */
  #pointerButton(event, down) {
    if (event.pointerType === "touch") {
      return down ? this.#touchStart(event) : this.#touchEnd(event);
    }
    event.preventDefault();
    if (down) {
      this.focus();
      try {
        this.#element.setPointerCapture(event.pointerId);
      } catch {
        // Not capturable (e.g. a synthetic event): moves still arrive.
      }
    }
    this.#flushMove();
    const { x, y } = this.toScreen(event.clientX, event.clientY);
    this.#lastX = x;
    this.#lastY = y;
    this.#options.send({
      type: "pointer",
      x,
      y,
      buttons: event.buttons & 0x1f,
    });
  }

  /** @param {WheelEvent} event */
  #wheel(event) {
    event.preventDefault();
    const scale = event.deltaMode === WheelEvent.DOM_DELTA_LINE
      ? WHEEL_NOTCH
      : event.deltaMode === WheelEvent.DOM_DELTA_PAGE
      ? WHEEL_NOTCH * 3
      : 1;
    this.#scroll(event.deltaX * scale, event.deltaY * scale);
  }

  /**
   * Accumulates scroll travel; sends whole notches.
   *
   * @param {number} dx
   * @param {number} dy
   */
  #scroll(dx, dy) {
    this.#wheelX += dx;
    this.#wheelY += dy;
    const nx = Math.trunc(this.#wheelX / WHEEL_NOTCH);
    const ny = Math.trunc(this.#wheelY / WHEEL_NOTCH);
    if (!nx && !ny) return;
    this.#wheelX -= nx * WHEEL_NOTCH;
    this.#wheelY -= ny * WHEEL_NOTCH;
    this.#flushMove();
    this.#options.send({ type: "wheel", dx: nx, dy: ny });
  }

  /** @param {PointerEvent} event */
  #touchStart(event) {
    event.preventDefault();
    // The canvas, not the text area: a tap must not open the on-screen
    // keyboard every time.
    this.#element.focus({ preventScroll: true });
    this.#touches.set(event.pointerId, {
      x: event.clientX,
      y: event.clientY,
      startX: event.clientX,
      startY: event.clientY,
    });
    if (this.#touches.size === 1) {
      this.#touchMode = "tap";
    } else if (this.#touches.size === 2) {
      // A second finger turns a tap into a scroll; a drag in progress ends.
      if (this.#touchMode === "drag") this.#sendButtons(0);
      this.#touchMode = "scroll";
    }
  }

  /** @param {PointerEvent} event */
  #touchMove(event) {
    const touch = this.#touches.get(event.pointerId);
    if (!touch) return;
    event.preventDefault();
    const dy = event.clientY - touch.y;
    const dx = event.clientX - touch.x;
    touch.x = event.clientX;
    touch.y = event.clientY;
    if (this.#touchMode === "scroll") {
      // Both fingers move: each contributes half; content follows the
      // fingers, so dragging up scrolls down.
      this.#scroll(-dx / 2, -dy / 2);
      return;
    }
    if (this.#touchMode === "tap") {
      const moved = Math.hypot(
        event.clientX - touch.startX,
        event.clientY - touch.startY,
      );
      if (moved < TAP_SLOP) return;
      // A drag: press the left button where the finger went down.
      const start = this.toScreen(touch.startX, touch.startY);
      this.#options.send({ type: "pointer", ...start, buttons: 0 });
      this.#options.send({ type: "pointer", ...start, buttons: BUTTON.LEFT });
      this.#touchMode = "drag";
    }
    if (this.#touchMode === "drag") {
      const { x, y } = this.toScreen(event.clientX, event.clientY);
      this.#queueMove(x, y, BUTTON.LEFT);
    }
  }

  /** @param {PointerEvent} event */
  #touchEnd(event) {
    const touch = this.#touches.get(event.pointerId);
    if (!touch) return;
    event.preventDefault();
    this.#touches.delete(event.pointerId);
    if (this.#touchMode === "tap" && event.type === "pointerup") {
      const { x, y } = this.toScreen(touch.startX, touch.startY);
      this.#options.send({ type: "pointer", x, y, buttons: 0 });
      this.#options.send({ type: "pointer", x, y, buttons: BUTTON.LEFT });
      this.#options.send({ type: "pointer", x, y, buttons: 0 });
    } else if (this.#touchMode === "drag") {
      this.#flushMove();
      this.#sendButtons(0);
    }
    if (!this.#touches.size) this.#touchMode = "none";
    else if (this.#touchMode === "tap" || this.#touchMode === "drag") {
      this.#touchMode = "none";
    }
  }

  /** @param {number} buttons */
  #sendButtons(buttons) {
    this.#flushMove();
    this.#options.send({
      type: "pointer",
      x: this.#lastX,
      y: this.#lastY,
      buttons,
    });
  }
}
