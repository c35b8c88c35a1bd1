// @ts-check
/// <reference lib="dom" />
/**
 * The session view: builds the canvas, the status overlay, the toolbar
 * (title, fps and latency, upload, clipboard, disconnect, and log off when
 * the page can end the session: `logOff`), the message that the tab's app
 * has closed (`APP_CLOSED`: no reconnect; close the tab or go back), and the clipboard
 * panel (text, and the last image the session copied, to copy or save)
 * inside a container, and wires tunnel → client → display and input.
 * Pages call {@linkcode openSession} with a `connect` callback that returns
 * a fresh WebSocket URL for every (re)connect.
 *
 * For tests, the open session is also `window.webstream.session`.
 *
 * @module
 */
import { SessionClient, writeImageToClipboard } from "./client.js";
import { Display } from "./display.js";
import { Input } from "./input.js";
import { Tunnel, TunnelEndedError } from "./tunnel.js";
import { videoSupport } from "./video.js";
import { SoundControls } from "./sound_controls.js";
import { resolutionQuery, viewOf } from "./session_size.js";

export { TunnelEndedError };

/**
 * @typedef {import("./tunnel.js").TunnelState} TunnelState
 * @typedef {import("./protocol.js").FileRequest} FileRequest
 * @typedef {import("./protocol.js").UploadResult} UploadResult
 */

/**
 * Options of {@linkcode openSession}.
 *
 * @typedef {{
 *   connect: (size: { width: number, height: number }) => Promise<string>,
 *   title?: string,
 *   onclose?: () => void,
 *   logOff?: () => Promise<void>,
 *   minDelayMs?: number,
 *   maxDelayMs?: number,
 * }} SessionOptions
 */

/**
 * An open session view. State is read-only; `close()` ends it.
 *
 * @typedef {{
 *   readonly status: TunnelState["state"],
 *   readonly state: TunnelState,
 *   readonly fps: number,
 *   readonly latencyMs: number | undefined,
 *   readonly framesDrawn: number,
 *   readonly tilesReceived: Record<string, number>,
 *   readonly videoFramesShown: number,
 *   readonly audioPacketsReceived: number,
 *   readonly audioBytesReceived: number,
 *   readonly downloads: readonly import("./client.js").Download[],
 *   readonly sound: SoundControls,
 *   readonly lastClipboard: string | undefined,
 *   readonly lastClipboardImage: Uint8Array | undefined,
 *   readonly screen: { width: number, height: number },
 *   readonly hello: import("./protocol.js").Hello | undefined,
 *   readonly connects: number,
 *   readonly closedApp: string | undefined,
 *   readPixels: (x: number, y: number, width: number, height: number) => Promise<Uint8ClampedArray>,
 *   viewSize: () => { width: number, height: number },
 *   close: (reason?: string) => void,
 * }} Session
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attributes]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/**
 * Opens a session view in `container` (which it fills) and starts
 * connecting.
 *
 * @param {HTMLElement} container
 * @param {SessionOptions} options
 * @returns {Session}
 */
export function openSession(container, options) {
  const canvas = h("canvas", {
    class: "ws-canvas",
    tabindex: "0",
    "aria-label": "remote session",
  });
  const stage = h("div", { class: "ws-stage" }, [canvas]);
  const statusText = h("p", { class: "ws-status-text" });
  const closeButton = h("button", { type: "button", class: "ws-close" }, [
    "Close",
  ]);
  closeButton.hidden = true;
  const closeTabButton = h(
    "button",
    { type: "button", class: "ws-close-tab" },
    [
      "Close tab",
    ],
  );
  closeTabButton.hidden = true;
  const fileTitle = h("p", { class: "ws-file-title" });
  const fileInput = h("input", { type: "file", class: "ws-file-input" });
  const fileCancel = h("button", { type: "button", class: "ws-file-cancel" }, [
    "Cancel",
  ]);
  const filePrompt = h("div", { class: "ws-file-request", role: "dialog" }, [
    h("p", {}, ["The session asks for a file:"]),
    fileTitle,
    fileInput,
    fileCancel,
  ]);
  filePrompt.hidden = true;
  const overlay = h("div", { class: "ws-overlay", role: "status" }, [
    h("div", { class: "ws-overlay-box" }, [
      statusText,
      closeTabButton,
      closeButton,
      filePrompt,
    ]),
  ]);
  const stats = h("span", { class: "ws-stats" }, ["–"]);
  const uploadInput = h("input", {
    type: "file",
    class: "ws-upload-input",
    multiple: "",
  });
  uploadInput.hidden = true;
  const uploadButton = h("button", { type: "button", class: "ws-upload" }, [
    "Upload",
  ]);
  uploadButton.hidden = true;
  const clipboardButton = h(
    "button",
    { type: "button", class: "ws-clipboard-toggle" },
    ["Clipboard"],
  );
  const disconnectButton = h(
    "button",
    { type: "button", class: "ws-disconnect" },
    ["Disconnect"],
  );
  const logOffButton = h(
    "button",
    { type: "button", class: "ws-log-off" },
    ["Log off"],
  );
  logOffButton.hidden = !options.logOff;
  const clipboardText = h("textarea", {
    class: "ws-clipboard-text",
    rows: "5",
    "aria-label": "clipboard",
  });
  const clipboardSend = h("button", {
    type: "button",
    class: "ws-clipboard-send",
  }, [
    "Send to session",
  ]);
  // The session's last clipboard image: shown, and offered to copy (a
  // click is the gesture the browser may want) or save.
  const clipboardImage = h("img", {
    class: "ws-clipboard-image",
    alt: "clipboard image",
  });
  const clipboardImageCopy = h("button", {
    type: "button",
    class: "ws-clipboard-image-copy",
  }, ["Copy image"]);
  const clipboardImageSave = h("a", {
    class: "ws-clipboard-image-save",
    download: "clipboard.png",
  }, ["Save image"]);
  const clipboardImageBox = h("div", { class: "ws-clipboard-image-box" }, [
    clipboardImage,
    clipboardImageCopy,
    clipboardImageSave,
  ]);
  clipboardImageBox.hidden = true;
  const clipboardPanel = h("div", { class: "ws-clipboard" }, [
    clipboardText,
    clipboardSend,
    clipboardImageBox,
  ]);
  clipboardPanel.hidden = true;
  const toasts = h("div", { class: "ws-toasts", "aria-live": "polite" });
  const sound = new SoundControls({ setAudio: (on) => client.setAudio(on) });
  const toolbar = h("div", { class: "ws-toolbar" }, [
    h("span", { class: "ws-title" }, [options.title ?? "webstream"]),
    stats,
    sound.element,
    uploadButton,
    uploadInput,
    clipboardButton,
    disconnectButton,
    logOffButton,
  ]);
  const root = h("div", { class: "ws-session" }, [
    stage,
    overlay,
    toolbar,
    clipboardPanel,
    toasts,
  ]);
  container.append(root);

  const display = new Display(canvas);
  /** @type {Promise<string[]> | undefined} */
  let supported;
  /** The H.264 codecs this browser decodes (asked once). */
  const codecs = () => supported ??= videoSupport();
  /** @type {TunnelState} */
  let state = { state: "connecting", attempt: 0 };
  let connects = 0;
  let helloSeen = false;
  let closed = false;
  /** The name of the tab's app once it has closed. @type {string | undefined} */
  let closedApp;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdown;
  /** @type {FileRequest[]} */
  const fileRequests = [];

  const viewSize = () => ({
    width: Math.max(1, Math.floor(stage.clientWidth)),
    height: Math.max(1, Math.floor(stage.clientHeight)),
  });

  /** The view in CSS and device pixels. */
  const view = () => viewOf(viewSize(), devicePixelRatio);
  /**
   * The size a (re)connect asks for: a reconnect asks for what the session
   * had for this view, so the session is not resized twice.
   *
   * @type {() => { width: number, height: number }}
   */
  const connectSize = () => {
    const wanted = client.wantedSize;
    return wanted ? { width: wanted.width, height: wanted.height } : viewSize();
  };

  const tunnel = new Tunnel({
    connect: () => {
      connects++;
      return options.connect(connectSize());
    },
    minDelayMs: options.minDelayMs,
    maxDelayMs: options.maxDelayMs,
  });
  const client = new SessionClient(tunnel, display, {
    hello: (hello) => {
      helloSeen = true;
      uploadButton.hidden = !hello.upload;
      sound.offered(hello.audio);
      clipboardSend.disabled = !hello.clipboard?.toSession;
      showStatus();
    },
    clipboard: (text) => {
      clipboardText.value = text;
    },
    clipboardImage: (png, copied) => {
      showClipboardImage(png);
      if (!copied) {
        toast(
          "clipboard",
          "The session copied an image: it is in the clipboard panel",
        );
      }
    },
    fileRequest: (request) => {
      fileRequests.push(request);
      showFileRequest();
    },
    uploadProgress: ({ uploadId, name, sent, size }) => {
      toast(`upload-${uploadId}`, `Uploading ${name}: ${percent(sent, size)}`);
    },
    uploadResult: (result) => showUploadResult(result, ""),
    downloadProgress: (download) => {
      toast(
        `download-${download.downloadId}`,
        `${
          download.kind === "print" ? "Receiving print job" : "Downloading"
        } ${download.name}: ${percent(download.received, download.size)}`,
      );
    },
    downloadDone: (download) => saveDownload(download),
    notice: (notice) => toast("", notice.text, notice.level),
    capabilities: async (hello) => ({
      video: hello.video ? await codecs() : [],
      audio: hello.audio && sound.supported,
    }),
    audio: (packet) => sound.push(packet),
    appClosed: ({ name }) => {
      closedApp = name;
      // Nothing is left to show: the tab ends here, without reconnecting.
      tunnel.close(`${name} has closed`);
    },
    stats: () => {
      const latency = client.latencyMs === undefined
        ? "–"
        : `${Math.round(client.latencyMs)} ms`;
      stats.textContent = `${client.fps} fps · ${latency}`;
    },
  });
  display.onneedkeyframe = () => client.requestKeyframe();
  const input = new Input(canvas, {
    send: (message) => client.send(message),
    screen: () => ({ width: display.width, height: display.height }),
  });

  function layout() {
    const { width, height } = viewSize();
    // Session pixels per CSS pixel: one per device pixel within the
    // policy's cap, so the canvas' backing store is drawn unscaled.
    const ratio = client.wantedSize?.pixelRatio ?? 1;
    const sw = (display.width || width * ratio) / ratio;
    const sh = (display.height || height * ratio) / ratio;
    // Scaled down to fit when the session is larger than the view.
    const scale = Math.min(1, width / sw, height / sh);
    canvas.style.width = `${sw * scale}px`;
    canvas.style.height = `${sh * scale}px`;
  }
  display.onresize = layout;
  function viewChanged() {
    client.viewResized(view());
    layout();
  }
  const observer = new ResizeObserver(viewChanged);
  observer.observe(stage);
  // devicePixelRatio changes (browser zoom, another monitor) without a
  // resize: a media query for the current ratio says when it stops holding.
  /** @type {MediaQueryList | undefined} */
  let resolution;
  function watchResolution() {
    resolution?.removeEventListener("change", resolutionChanged);
    resolution = matchMedia(resolutionQuery(devicePixelRatio));
    resolution.addEventListener("change", resolutionChanged);
  }
  function resolutionChanged() {
    watchResolution();
    viewChanged();
  }
  watchResolution();

  function showStatus() {
    clearInterval(countdown);
    const connected = state.state === "connected" && helloSeen;
    overlay.hidden = connected && !fileRequests.length;
    statusText.hidden = connected;
    closeButton.hidden = state.state !== "ended";
    closeTabButton.hidden = state.state !== "ended" || closedApp === undefined;
    closeButton.textContent = closedApp === undefined
      ? "Close"
      : "Back to the portal";
    root.dataset.status = state.state;
    if (closedApp !== undefined) root.dataset.appClosed = closedApp;
    switch (state.state) {
      case "connecting":
        statusText.textContent = state.attempt
          ? `Reconnecting (attempt ${state.attempt})…`
          : "Connecting…";
        break;
      case "connected":
        statusText.textContent = "Waiting for the session…";
        break;
      case "reconnecting": {
        const { attempt } = state;
        const until = performance.now() + state.delayMs;
        const tick = () => {
          const seconds = Math.max(
            0,
            Math.ceil((until - performance.now()) / 1000),
          );
          statusText.textContent =
            `Connection lost. Reconnecting in ${seconds} s (attempt ${attempt})…`;
        };
        tick();
        countdown = setInterval(tick, 250);
        break;
      }
      case "ended":
        statusText.textContent = closedApp === undefined
          ? `Session ended: ${state.reason}`
          : `${closedApp} has closed`;
        filePrompt.hidden = true;
        break;
    }
  }

  tunnel.onstate = (next) => {
    state = next;
    if (next.state === "connected") {
      helloSeen = false;
      client.connected();
    } else {
      client.disconnected();
    }
    if (next.state === "ended") {
      input.releaseAll();
      fileRequests.length = 0;
    }
    showStatus();
  };

  function showFileRequest() {
    const request = fileRequests[0];
    filePrompt.hidden = !request;
    if (request) {
      fileTitle.textContent = request.title || "Choose a file";
      fileInput.value = "";
    }
    showStatus();
  }

  fileInput.addEventListener("change", () => {
    const request = fileRequests.shift();
    const file = fileInput.files?.[0];
    showFileRequest();
    if (request && file) {
      startUpload(file, request.dialogGuid);
    } else if (request) {
      client.cancelFileRequest(request.dialogGuid);
    }
  });
  fileCancel.addEventListener("click", () => {
    const request = fileRequests.shift();
    if (request) client.cancelFileRequest(request.dialogGuid);
    showFileRequest();
    input.focus();
  });

  /**
   * @param {File} file
   * @param {string} [dialogGuid]
   */
  function startUpload(file, dialogGuid) {
    client.upload(file, { dialogGuid }).then((result) =>
      showUploadResult(result, `upload-${result.uploadId}`)
    );
  }

  /**
   * @param {UploadResult} result
   * @param {string} key
   */
  function showUploadResult(result, key) {
    if (result.ok) {
      toast(key, `Uploaded ${result.path ?? "the file"}`, "info");
    } else {
      toast(key, `Upload failed: ${result.error ?? "refused"}`, "error");
    }
  }

  /**
   * Saves a finished download (the browser's own download); a print job's
   * PDF can also be opened from its message. A failed one says why.
   *
   * @param {import("./client.js").Download} download
   */
  function saveDownload(download) {
    const key = `download-${download.downloadId}`;
    if (download.state !== "done" || !download.blob) {
      toast(
        key,
        `Download of ${download.name} failed: ${download.error ?? "refused"}`,
        "error",
      );
      return;
    }
    const url = URL.createObjectURL(download.blob);
    // The object URL holds the file while "Open" may use it; the list of
    // downloads keeps only what it was.
    delete download.blob;
    const link = h("a", { href: url, download: download.name });
    link.hidden = true;
    root.append(link);
    link.click();
    link.remove();
    const what = download.kind === "print" ? "Print job" : "Downloaded";
    toast(key, `${what} ${download.name} (${download.size} bytes)`);
    if (download.kind === "print") {
      const item = toasts.querySelector(`[data-key="${key}"]`);
      item?.append(" ", h("a", { href: url, target: "_blank" }, ["Open"]));
    }
    // The object URL outlives the toast, so "Open" works while it shows.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /**
   * Shows a short message; one with the same key replaces the previous.
   *
   * @param {string} key
   * @param {string} text
   * @param {string} [level]
   */
  function toast(key, text, level = "info") {
    let item = key
      ? /** @type {HTMLElement | null} */ (
        toasts.querySelector(`[data-key="${key}"]`)
      )
      : null;
    if (!item) {
      item = h("p", { class: "ws-toast" });
      if (key) item.dataset.key = key;
      toasts.append(item);
    }
    item.className = `ws-toast ${level}`;
    item.textContent = text;
    const shown = item;
    clearTimeout(Number(shown.dataset.timer));
    shown.dataset.timer = String(setTimeout(() => shown.remove(), 8000));
  }

  uploadButton.addEventListener("click", () => uploadInput.click());
  uploadInput.addEventListener("change", () => {
    for (const file of uploadInput.files ?? []) startUpload(file);
    uploadInput.value = "";
    input.focus();
  });
  stage.addEventListener("dragover", (event) => {
    if (!client.canUpload) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  });
  stage.addEventListener("drop", (event) => {
    if (!client.canUpload) return;
    event.preventDefault();
    for (const file of event.dataTransfer?.files ?? []) startUpload(file);
  });

  clipboardButton.addEventListener("click", () => {
    clipboardPanel.hidden = !clipboardPanel.hidden;
  });
  clipboardSend.addEventListener("click", () => {
    if (client.sendClipboard(clipboardText.value)) {
      toast("clipboard", "Clipboard sent to the session");
    }
    input.focus();
  });
  /** @type {string | undefined} */
  let clipboardImageUrl;
  /** @param {Uint8Array} png */
  function showClipboardImage(png) {
    if (clipboardImageUrl) URL.revokeObjectURL(clipboardImageUrl);
    clipboardImageUrl = URL.createObjectURL(
      new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (png)], {
        type: "image/png",
      }),
    );
    clipboardImage.src = clipboardImageUrl;
    clipboardImageSave.href = clipboardImageUrl;
    clipboardImageBox.hidden = false;
  }
  clipboardImageCopy.addEventListener("click", async () => {
    const png = client.lastClipboardImage;
    if (!png) return;
    toast(
      "clipboard",
      await writeImageToClipboard(png)
        ? "Image copied"
        : "The browser did not allow copying the image: save it instead",
    );
  });
  root.addEventListener("paste", (event) => {
    // Pasting into the panel edits the panel.
    if (event.target === clipboardText) return;
    const data = event.clipboardData;
    const text = data?.getData("text/plain");
    // Text wins when there is text (a spreadsheet copies both); an image
    // alone (a screenshot, an image copied from a page) goes as PNG.
    const image = text
      ? undefined
      : [...(data?.items ?? [])].find((item) =>
        item.kind === "file" && item.type.startsWith("image/")
      )?.getAsFile();
    if (image) {
      event.preventDefault();
      if (!client.clipboardToSession) {
        toast("clipboard", "Clipboard to the session is not allowed", "warn");
        return;
      }
      pngOf(image).then((png) => {
        if (client.sendClipboardImage(png)) showClipboardImage(png);
      }).catch((error) =>
        toast("clipboard", `The image cannot be pasted: ${error}`, "warn")
      );
      return;
    }
    if (text === undefined) return;
    event.preventDefault();
    clipboardText.value = text;
    client.sendClipboard(text);
  });
  disconnectButton.addEventListener("click", () => close("disconnected"));
  logOffButton.addEventListener("click", async () => {
    if (!options.logOff) return;
    if (!confirm("Log off? Your apps in this session close.")) return;
    logOffButton.disabled = true;
    try {
      await options.logOff();
      close("logged off");
    } catch (error) {
      toast("log-off", `Could not log off: ${error}`);
      logOffButton.disabled = false;
    }
  });
  // Browsers play sound only after the user interacts with the page.
  for (const type of ["pointerdown", "keydown"]) {
    root.addEventListener(type, () => sound.unlock(), { capture: true });
  }
  closeButton.addEventListener("click", () => destroy());
  closeTabButton.addEventListener("click", () => {
    // Browsers close only tabs a script opened; otherwise go back instead.
    globalThis.close();
    setTimeout(() => globalThis.closed || destroy(), 100);
  });

  /** @param {string} [reason] */
  function close(reason = "disconnected") {
    tunnel.close(reason);
  }

  function destroy() {
    if (closed) return;
    closed = true;
    tunnel.close("closed");
    clearInterval(countdown);
    observer.disconnect();
    resolution?.removeEventListener("change", resolutionChanged);
    input.destroy();
    sound.close();
    client.destroy();
    display.destroy();
    root.remove();
    options.onclose?.();
  }

  /** @type {Session} */
  const session = {
    get status() {
      return state.state;
    },
    get state() {
      return state;
    },
    get fps() {
      return client.fps;
    },
    get latencyMs() {
      return client.latencyMs;
    },
    get framesDrawn() {
      return client.framesDrawn;
    },
    get tilesReceived() {
      return { ...client.tilesReceived };
    },
    get videoFramesShown() {
      return display.videoFramesShown;
    },
    get audioPacketsReceived() {
      return client.audioPacketsReceived;
    },
    get downloads() {
      return client.downloads;
    },
    get audioBytesReceived() {
      return client.audioBytesReceived;
    },
    get sound() {
      return sound;
    },
    get lastClipboard() {
      return client.lastClipboard;
    },
    get lastClipboardImage() {
      return client.lastClipboardImage;
    },
    get screen() {
      return { width: display.width, height: display.height };
    },
    get hello() {
      return client.hello;
    },
    get connects() {
      return connects;
    },
    get closedApp() {
      return closedApp;
    },
    readPixels: (x, y, width, height) =>
      display.readPixels(x, y, width, height),
    viewSize,
    close,
  };
  /** @type {any} */ (globalThis).webstream = { session };
  layout();
  showStatus();
  tunnel.start();
  input.focus();
  return session;
}

/**
 * @param {number} part
 * @param {number} whole
 */
function percent(part, whole) {
  return whole ? `${Math.floor(part * 100 / whole)} %` : "100 %";
}

/**
 * The image as PNG bytes: a PNG as it is, any other image the browser
 * decodes re-encoded as PNG.
 *
 * @param {Blob} image
 * @returns {Promise<Uint8Array>}
 */
async function pngOf(image) {
  if (image.type === "image/png") {
    return new Uint8Array(await image.arrayBuffer());
  }
  const bitmap = await createImageBitmap(image);
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas");
    context.drawImage(bitmap, 0, 0);
    const png = await canvas.convertToBlob({ type: "image/png" });
    return new Uint8Array(await png.arrayBuffer());
  } finally {
    bitmap.close();
  }
}
