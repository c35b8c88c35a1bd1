// @ts-check
/// <reference lib="dom" />
/**
 * The gateway's portal: sign in, list the workspaces the user may launch and
 * the user's live sessions, launch or reconnect, and open the session's
 * WebSocket through the gateway (then measure a ping; the full viewer comes
 * with the media protocol).
 *
 * @module
 */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} path
 * @param {unknown} [body]
 */
async function api(path, body) {
  const response = await fetch(
    path,
    body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    },
  );
  const data = response.status === 204 ? {} : await response.json();
  return { ok: response.ok, status: response.status, data };
}

/** @param {string} text */
function show(text) {
  const out = $("session");
  out.hidden = false;
  out.textContent = text;
}

async function start() {
  const me = await api("/api/me");
  $("signin").hidden = me.ok;
  $("workspaces").hidden = !me.ok;
  if (!me.ok) return;
  $("who").textContent = me.data.user;
  const workspaces = await api("/api/workspaces");
  const list = $("workspace-list");
  list.replaceChildren(...workspaces.data.map((/** @type {any} */ w) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = `${w.name} (${w.kind})`;
    button.dataset.workspace = w.id;
    button.addEventListener("click", () => launch({ workspaceId: w.id }));
    item.append(button);
    return item;
  }));
  await listSessions();
}

async function listSessions() {
  const sessions = await api("/api/sessions");
  $("session-list").replaceChildren(
    ...sessions.data.map((/** @type {any} */ s) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = `Reconnect ${s.workspaceIds.join(", ")}`;
      button.addEventListener(
        "click",
        () =>
          launch({ workspaceId: s.workspaceIds[0], sessionId: s.sessionId }),
      );
      item.append(`${s.kind} session ${s.sessionId.slice(0, 8)} `, button);
      return item;
    }),
  );
}

/** @param {{ workspaceId: string, sessionId?: string }} request */
async function launch(request) {
  show("Starting…");
  const result = await api("/api/launch", {
    ...request,
    width: Math.max(320, Math.min(7680, innerWidth)),
    height: Math.max(200, Math.min(4320, innerHeight)),
  });
  if (!result.ok) {
    show(`Could not launch: ${result.data.error}`);
    return;
  }
  const { sessionId, websocketPath, token, outcome } = result.data;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(
    `${scheme}://${location.host}${websocketPath}?token=${
      encodeURIComponent(token)
    }`,
  );
  let sentAt = 0;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      sentAt = performance.now();
      socket.send(JSON.stringify({ type: "ping", id: 1 }));
    } else if (message.type === "pong") {
      show(
        `Connected to session ${sessionId} (${outcome})\n` +
          `round trip through the gateway ${
            (performance.now() - sentAt).toFixed(1)
          } ms`,
      );
      listSessions();
    }
  };
  socket.onclose = (event) =>
    show(`Session connection closed (${event.code} ${event.reason})`);
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
  const result = await api("/api/signin", {
    user: form.get("user"),
    password: form.get("password"),
  });
  $("signin-error").textContent = result.ok ? "" : result.data.error;
  if (result.ok) start();
});

$("signout").addEventListener("click", async (event) => {
  event.preventDefault();
  await api("/api/signout", {});
  start();
});

start();
