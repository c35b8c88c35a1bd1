// @ts-check
/// <reference lib="dom" />
/**
 * The admin page: hosts with their load and state (drain/undrain), the live
 * session map (log any session off), signing a user out everywhere, and
 * placement decisions with their explanations. Signed-in administrators use
 * their cookie; refreshed every 5 s.
 *
 * @module
 */

/** @param {string} selector */
const body = (
  selector,
) => /** @type {HTMLElement} */ (document.querySelector(`${selector} tbody`));

/** @param {string} path @param {unknown} [payload] */
async function api(path, payload) {
  const response = await fetch(
    path,
    payload === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    },
  );
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error ?? `${path}: ${response.status}`);
  }
  return response.json();
}

/** @param {(string | Node)[]} cells */
function row(...cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.append(cell);
    tr.append(td);
  }
  return tr;
}

/** @param {number | undefined | null} n */
const pct = (n) => (typeof n === "number" ? `${n.toFixed(0)}%` : "–");

async function refresh() {
  try {
    const [hosts, sessions, placements] = await Promise.all([
      api("/admin/api/hosts"),
      api("/admin/api/sessions"),
      api("/admin/api/placements"),
    ]);
    body("#hosts").replaceChildren(...hosts.map((/** @type {any} */ h) => {
      const drain = document.createElement("button");
      drain.textContent = h.draining ? "Undrain" : "Drain";
      drain.addEventListener("click", async () => {
        await api("/admin/api/hosts/drain", {
          serverUrl: h.serverUrl,
          draining: !h.draining,
        });
        refresh();
      });
      const state = document.createElement("span");
      state.className = `state ${h.state}`;
      state.textContent = h.state;
      state.title = h.stateReason;
      return row(
        h.serverUrl,
        state,
        `${h.activeSessions}/${h.maxSessions}`,
        pct(h.cpuUsage),
        pct(h.memoryUsage),
        h.tags.join(", "),
        h.lastProbe
          ? `${
            h.lastProbe.ok ? "ok" : h.lastProbe.error
          } (${h.lastProbe.latencyMs} ms)`
          : "–",
        drain,
      );
    }));
    body("#sessions").replaceChildren(
      ...sessions.map((/** @type {any} */ s) => {
        const logOff = document.createElement("button");
        logOff.textContent = "Log off";
        logOff.className = "log-off";
        logOff.dataset.session = s.sessionId;
        logOff.addEventListener("click", async () => {
          if (!confirm(`Log off ${s.user}'s session? Unsaved work is lost.`)) {
            return;
          }
          logOff.disabled = true;
          try {
            await api(
              `/admin/api/sessions/${encodeURIComponent(s.sessionId)}/logoff`,
              {},
            );
          } catch (error) {
            alert(`Could not log the session off: ${error}`);
          }
          refresh();
        });
        return row(
          s.sessionId.slice(0, 8),
          s.user,
          s.kind,
          s.workspaceIds.join(", "),
          s.serverUrl,
          s.live ? "yes" : "no",
          logOff,
        );
      }),
    );
    body("#placements").replaceChildren(
      ...placements.slice(0, 50).map((/** @type {any} */ p) => {
        const why = document.createElement("a");
        why.href = "#";
        why.textContent = p.summary;
        why.addEventListener("click", async (event) => {
          event.preventDefault();
          const out =
            /** @type {HTMLElement} */ (document.getElementById("decision"));
          out.hidden = false;
          out.textContent = JSON.stringify(
            await api(`/admin/api/placements/${p.id}`),
            null,
            2,
          );
        });
        return row(p.at.slice(11, 19), p.user, p.workspaceId, p.outcome, why);
      }),
    );
    /** @type {HTMLElement} */ (document.getElementById("status")).textContent =
      `${hosts.length} hosts, ${
        sessions.filter((/** @type {any} */ s) => s.live).length
      } live sessions`;
  } catch (error) {
    /** @type {HTMLElement} */ (document.getElementById("status")).textContent =
      `Sign in as an administrator on the portal first (${error})`;
  }
}

// Every sign-in of the user made before now stops working, on every gateway.
const signOutForm = /** @type {HTMLFormElement} */ (
  document.getElementById("signout-user")
);
signOutForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = /** @type {HTMLElement} */ (
    document.getElementById("signout-result")
  );
  const user = String(new FormData(signOutForm).get("user") ?? "").trim();
  try {
    const answer = await api("/admin/api/users/signout", { user });
    result.className = "";
    result.textContent = `${answer.user} is signed out everywhere`;
  } catch (error) {
    result.className = "error";
    result.textContent = String(/** @type {Error} */ (error).message);
  }
});

refresh();
setInterval(refresh, 5000);
