// @ts-check
/// <reference lib="dom" />
/**
 * Direct launch page (a host under `-sm` or `-backend`): asks this host for a
 * session (`/getConnection`) and opens the session view full-window, through
 * the `-sm` relay when the host runs standalone. Every reconnect asks
 * `/getConnection` again with the same `X-Session-ID`, which returns the same
 * session with a fresh single-use token.
 *
 * @module
 */
import { openSession, TunnelEndedError } from "./session/view.js";
import { MARK, mark } from "./session/marks.js";

const statusLine =
  /** @type {HTMLElement} */ (document.getElementById("host-status"));
const button =
  /** @type {HTMLButtonElement} */ (document.getElementById("launch"));
const output = /** @type {HTMLElement} */ (document.getElementById("session"));

/** A session id that survives a reload, so a reload reconnects. */
function sessionId() {
  let id = sessionStorage.getItem("webstream.sessionId");
  if (!id) {
    id = crypto.randomUUID();
    sessionStorage.setItem("webstream.sessionId", id);
  }
  return id;
}

/** @param {string} text */
function show(text) {
  output.hidden = false;
  output.textContent = text;
}

/**
 * The host's size limits for the launch request.
 *
 * @param {{ width: number, height: number }} size
 */
function clampSize({ width, height }) {
  return {
    width: Math.max(320, Math.min(7680, Math.floor(width))),
    height: Math.max(200, Math.min(4320, Math.floor(height))),
  };
}

async function checkHealth() {
  try {
    const response = await fetch("/health");
    const health = await response.json();
    const { total, active, available } = health.sessions;
    statusLine.textContent =
      `Host ${health.status}: ${active} of ${total} sessions in use, ${available} available.`;
    button.disabled = !response.ok;
  } catch (error) {
    statusLine.textContent = `Host unreachable: ${error}`;
  }
}

/**
 * Asks the host for a connection; answers the body, or throws.
 *
 * @param {{ width: number, height: number }} size
 */
async function getConnection(size) {
  const { width, height } = clampSize(size);
  mark(MARK.request);
  const response = await fetch(
    `/getConnection?width=${width}&height=${height}`,
    { headers: { "X-Session-ID": sessionId() } },
  );
  const body = await response.json().catch(() => ({}));
  mark(MARK.answer);
  if (response.ok) return body;
  const message = `Could not start a session: ${
    body.error ?? response.statusText
  }`;
  // 503: busy or starting, worth retrying; other refusals are final.
  if (response.status === 503) throw new Error(message);
  throw new TunnelEndedError(message);
}

/** @param {any} body */
function socketUrl(body) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = encodeURIComponent(body.token);
  return body.relay
    ? `${scheme}://${location.hostname}:${body.relay.port}${body.relay.path}?token=${token}`
    : `${scheme}://${body.host}:${body.port}${body.path}?token=${token}`;
}

async function launch() {
  mark(MARK.click);
  button.disabled = true;
  show("Starting a session…");
  const size = { width: innerWidth, height: innerHeight };
  /** @type {any} */
  let first;
  try {
    first = await getConnection(size);
  } catch (error) {
    show(error instanceof Error ? error.message : String(error));
    button.disabled = false;
    return;
  }
  show(
    `Connected to session ${first.sessionUuid}\n` +
      `pool account ${first.username}, slot ${first.slot}` +
      (first.reconnect ? " (reconnected)" : ""),
  );
  const container = document.createElement("div");
  container.id = "viewer";
  container.className = "ws-fullwindow";
  document.body.append(container);
  openSession(container, {
    title: `Session ${first.slot ?? ""}`.trim(),
    // The first connect uses the answer above; later ones ask again.
    connect: async (view) => {
      const body = first ?? await getConnection(view);
      first = undefined;
      return socketUrl(body);
    },
    onclose: () => {
      container.remove();
      button.disabled = false;
      show("Session closed.");
      checkHealth();
    },
  });
}

button.addEventListener("click", () => {
  launch().catch((error) => {
    show(`Launch failed: ${error}`);
    button.disabled = false;
  });
});
checkHealth();
