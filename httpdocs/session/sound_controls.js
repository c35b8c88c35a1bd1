// @ts-check
/// <reference lib="dom" />
/**
 * The session view's sound: a mute button and a volume slider for the
 * toolbar, the {@linkcode AudioPlayer} behind them, and what the streamer
 * is told. Browsers only play sound after the user has interacted with the
 * page, so sound starts at the first click or key press (`unlock()`);
 * until then, and while muted, the streamer is asked to send none
 * (`AUDIO_STATE` off), which saves the bandwidth.
 *
 * @module
 */
import { AudioPlayer, audioSupported } from "./audio.js";

/**
 * @typedef {{
 *   setAudio: (on: boolean) => void,
 *   createPlayer?: () => AudioPlayer,
 * }} SoundControlsOptions
 */

/** The toolbar's sound controls and the player behind them. */
export class SoundControls {
  /** The toolbar elements (hidden while the session offers no sound). */
  element;
  /** @type {AudioPlayer | undefined} */
  #player;
  /** @type {SoundControlsOptions} */
  #options;
  /** @type {HTMLButtonElement} */
  #button;
  /** @type {HTMLInputElement} */
  #volume;
  #offered = false;
  #unlocked = false;
  #muted = false;
  /** What the streamer was last told. */
  #sending = false;

  /** @param {SoundControlsOptions} options */
  constructor(options) {
    this.#options = options;
    this.#button = document.createElement("button");
    this.#button.type = "button";
    this.#button.className = "ws-sound";
    this.#button.addEventListener("click", () => this.setMuted(!this.#muted));
    this.#volume = document.createElement("input");
    this.#volume.type = "range";
    this.#volume.min = "0";
    this.#volume.max = "100";
    this.#volume.value = "100";
    this.#volume.className = "ws-volume";
    this.#volume.setAttribute("aria-label", "volume");
    this.#volume.addEventListener("input", () => {
      this.#player?.setVolume(Number(this.#volume.value) / 100);
    });
    this.element = document.createElement("span");
    this.element.className = "ws-sound-controls";
    this.element.append(this.#button, this.#volume);
    this.element.hidden = true;
    this.#render();
  }

  /** Whether this browser can play the session's sound. */
  get supported() {
    return audioSupported();
  }

  /** The player, once the session has offered sound. */
  get player() {
    return this.#player;
  }

  /** Whether the user muted the sound. */
  get muted() {
    return this.#muted;
  }

  /**
   * The session (re)connected: `offered` says whether it has sound for this
   * viewer. The streamer starts each connection silent, so it is told again.
   *
   * @param {boolean} offered
   */
  offered(offered) {
    this.#offered = offered && this.supported;
    this.element.hidden = !this.#offered;
    if (this.#offered && !this.#player) {
      this.#player = this.#options.createPlayer?.() ?? new AudioPlayer();
      this.#player.setVolume(Number(this.#volume.value) / 100);
    }
    this.#sending = false;
    this.#update();
  }

  /** A user gesture: the browser now lets the page play sound. */
  unlock() {
    if (this.#unlocked || !this.#player) return;
    this.#unlocked = true;
    this.#player.resume().catch((error) =>
      console.warn("webstream: sound cannot start", error)
    );
    this.#update();
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.#muted = muted;
    this.#player?.setMuted(muted);
    this.#render();
    this.#update();
  }

  /**
   * Plays one packet of the session's sound.
   *
   * @param {import("./protocol.js").AudioPacket} packet
   */
  push(packet) {
    if (this.#sending) this.#player?.push(packet);
  }

  /** Stops playing for good. */
  close() {
    this.#player?.close();
    this.#player = undefined;
  }

  #update() {
    const on = this.#offered && this.#unlocked && !this.#muted;
    if (on === this.#sending) return;
    this.#sending = on;
    this.#options.setAudio(on);
  }

  #render() {
    this.#button.textContent = this.#muted ? "Sound off" : "Sound on";
    this.#button.setAttribute("aria-pressed", String(!this.#muted));
  }
}
