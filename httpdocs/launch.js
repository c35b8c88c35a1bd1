// @ts-check
/// <reference lib="dom" />
/**
 * Direct launch page: asks this host for a session (`/getConnection`) and
 * opens the streamer's WebSocket (through the `-sm` relay when the host runs
 * standalone), then measures a ping round trip. The full viewer comes with
 * the media protocol.
 *
 * @module
 */

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

async function launch() {
  button.disabled = true;
  show("Starting a session…");
  const query = `?width=${innerWidth}&height=${innerHeight}`;
  const response = await fetch(`/getConnection${query}`, {
    headers: { "X-Session-ID": sessionId() },
  });
  const body = await response.json();
  if (!response.ok) {
    show(`Could not start a session: ${body.error}`);
    button.disabled = false;
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = encodeURIComponent(body.token);
  const url = body.relay
    ? `${scheme}://${location.hostname}:${body.relay.port}${body.relay.path}?token=${token}`
    : `${scheme}://${body.host}:${body.port}${body.path}?token=${token}`;
  const socket = new WebSocket(url);
  let sentAt = 0;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      sentAt = performance.now();
      socket.send(JSON.stringify({ type: "ping", id: 1 }));
    } else if (message.type === "pong") {
      const rtt = (performance.now() - sentAt).toFixed(1);
      show(
        `Connected to session ${body.sessionUuid}\n` +
          `pool account ${body.username}, slot ${body.slot}\n` +
          `round trip ${rtt} ms${body.reconnect ? " (reconnected)" : ""}`,
      );
      checkHealth();
    }
  };
  socket.onclose = (event) => {
    show(`Session connection closed (${event.code} ${event.reason})`);
    button.disabled = false;
  };
}

button.addEventListener("click", () => {
  launch().catch((error) => show(`Launch failed: ${error}`));
});
checkHealth();
