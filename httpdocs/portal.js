// @ts-check
/// <reference lib="dom" />
/**
 * The gateway's portal: sign in, list the workspaces the user may launch and
 * the user's live sessions, launch, reconnect or log off, and open the session view
 * full-window over the page (its WebSocket goes through the gateway).
 *
 * @module
 */
import { openSession, TunnelEndedError } from "./session/view.js";
import { MARK, mark } from "./session/marks.js";

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
      const logOff = document.createElement("button");
      logOff.textContent = "Log off";
      logOff.className = "log-off";
      logOff.addEventListener("click", async () => {
        if (!confirm("Log off this session? Its apps close.")) return;
        logOff.disabled = true;
        try {
          await logOffSession(s.sessionId);
        } catch (error) {
          show(error instanceof Error ? error.message : String(error));
        }
        listSessions();
      });
      item.append(
        `${s.kind} session ${s.sessionId.slice(0, 8)} `,
        button,
        " ",
        logOff,
      );
      return item;
    }),
  );
}

/**
 * Ends a session on its host (the gateway's log-off); throws with the
 * gateway's reason when it could not.
 *
 * @param {string} sessionId
 */
async function logOffSession(sessionId) {
  const result = await api(
    `/api/sessions/${encodeURIComponent(sessionId)}/logoff`,
    {},
  );
  if (!result.ok) throw new Error(`Could not log off: ${result.data.error}`);
}

/**
 * The gateway's size limits for the launch request.
 *
 * @param {{ width: number, height: number }} size
 */
function clampSize({ width, height }) {
  return {
    width: Math.max(320, Math.min(7680, Math.floor(width))),
    height: Math.max(200, Math.min(4320, Math.floor(height))),
  };
}

/**
 * Asks the gateway for a launch (or a reconnect); answers its body or throws.
 *
 * @param {{ workspaceId: string, sessionId?: string }} request
 * @param {{ width: number, height: number }} size
 */
async function requestLaunch(request, size) {
  mark(MARK.request);
  const result = await api("/api/launch", { ...request, ...clampSize(size) });
  mark(MARK.answer);
  if (result.ok) return result.data;
  const message = `Could not launch: ${result.data.error}`;
  // Busy (503) or over the licence limit for now (429): retry; anything
  // else (the session is gone, not allowed…) ends the view.
  if (result.status === 503 || result.status === 429) {
    throw new Error(message);
  }
  throw new TunnelEndedError(message);
}

/** @param {string} websocketPath @param {string} token */
function socketUrl(websocketPath, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${websocketPath}?token=${
    encodeURIComponent(token)
  }`;
}

/** @param {{ workspaceId: string, sessionId?: string }} request */
async function launch(request) {
  mark(MARK.click);
  show("Starting…");
  /** @type {any} */
  let first;
  try {
    first = await requestLaunch(request, {
      width: innerWidth,
      height: innerHeight,
    });
  } catch (error) {
    show(error instanceof Error ? error.message : String(error));
    return;
  }
  const { sessionId, outcome } = first;
  show(`Connected to session ${sessionId} (${outcome})`);
  listSessions();
  const container = document.createElement("div");
  container.id = "viewer";
  container.className = "ws-fullwindow";
  document.body.append(container);
  openSession(container, {
    title: request.workspaceId,
    // Tokens are single-use: every reconnect launches again, naming the
    // session so the gateway reconnects to it.
    connect: async (view) => {
      const body = first ??
        await requestLaunch(
          { workspaceId: request.workspaceId, sessionId },
          view,
        );
      first = undefined;
      return socketUrl(body.websocketPath, body.token);
    },
    logOff: () => logOffSession(sessionId),
    onclose: () => {
      container.remove();
      show(`Session ${sessionId} closed.`);
      listSessions();
    },
  });
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
