/**
 * Published-app lifetime with real processes: a real `webstream -gateway`
 * and a real `webstream -backend` (real Xvfb sessions and streamers, real
 * pool users as root), `appExitGrace` 1 s. The apps are unique `sleep`
 * command lines, ended by the test by their PIDs.
 *
 * - An app session whose app exits: the tab showing it gets `APP_CLOSED`
 *   with the app's name and is ended (4001); after the grace the session is
 *   logged off on its host and the gateway is told (admin, resolver and the
 *   user's list no longer show it).
 * - Two apps shared in one session: the first exiting tells only its own
 *   tab and does not end the session; launched again, it starts again and
 *   its new tab is told again when it exits; the second exiting ends the
 *   session.
 * - A desktop whose shell runs is not logged off, nor when its shell ends.
 * - A streamer killed in an app session is restarted there and does not log
 *   it off: the app runs on (a reconnect does not start it twice), the new
 *   streamer takes it up from its predecessor's record, and when it exits
 *   its new tab is told and the session ends.
 *
 * Needs the Debian packages xvfb and x11-utils.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  type Launched,
  launchHost,
  resolveSession,
  signIn,
  sleepCommand,
  startGateway,
  Teardown,
  type TestHost,
  type UserClient,
  writeGatewayConfig,
} from "../support/gateway.ts";
import {
  endProcessRunning,
  findStreamer,
  liveProcesses,
} from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";
import {
  helloAndPing,
  nextStreamerMessage,
  sendClient,
  type TestSocket,
} from "../support/ws.ts";
import { decodeStreamerMessage } from "../../httpdocs/session/protocol.js";
import { delay } from "../../mod/util/async.ts";

const OPTIONS = {
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: Deno.build.os !== "linux",
};

/** `webstreamSettings.appExitGrace` of the host, in seconds. */
const GRACE = 1;

/** Connects a tab (a viewer) to a launched session through the gateway. */
async function openTab(
  user: UserClient,
  launched: Launched,
): Promise<TestSocket> {
  const ws = await user.openRelay(launched.sessionId, launched.token);
  await helloAndPing(ws);
  return ws;
}

/** The tab's app closed: `APP_CLOSED` named `name`, then 4001. */
async function assertClosed(ws: TestSocket, name: string): Promise<void> {
  const closed = await nextStreamerMessage(ws, "appClosed");
  assertEquals(closed.closed.name, name);
  assertEquals((await ws.closed).code, 4001);
}

/**
 * The tab is still served (a ping is answered) and was not told its app
 * closed meanwhile.
 */
async function assertServed(ws: TestSocket): Promise<void> {
  const id = Math.floor(Math.random() * 1e9);
  sendClient(ws, { type: "ping", id });
  while (true) {
    const data = await ws.next();
    assert(typeof data !== "string", "binary webstream/2");
    const message = decodeStreamerMessage(new Uint8Array(data));
    assert(message.type !== "appClosed", "the tab was not told to close");
    if (message.type === "pong" && message.id === id) return;
  }
}

/** Waits for the host's log line that an app of `sessionId` closed. */
function hostSawClose(
  host: TestHost,
  sessionId: string,
  count: number,
): Promise<unknown> {
  return waitFor(
    () =>
      host.process.logs.filter((r) =>
          r.msg === "app closed" && r.sessionId === sessionId
        ).length >= count || undefined,
    { what: `the host to see app close ${count} of ${sessionId}` },
  );
}

/** Waits until the session has ended at the gateway, by its host's word. */
async function assertLoggedOff(
  gateway: { url: string; process: TestHost["process"] },
  admin: AdminClient,
  user: UserClient,
  sessionId: string,
): Promise<void> {
  await waitFor(async () => (await admin.session(sessionId)) === undefined, {
    what: `${sessionId} to end at the gateway`,
  });
  assert(
    gateway.process.logs.some((r) =>
      r.msg === "session ended" && r.sessionId === sessionId &&
      r.reason === "ended on its host: its last app closed"
    ),
    "ended by the host's report that its last app closed",
  );
  assertEquals((await resolveSession(gateway.url, sessionId)).status, 404);
  const mine = await (await user.fetch("/api/sessions")).json();
  assert(
    !mine.some((s: { sessionId: string }) => s.sessionId === sessionId),
    "the portal no longer lists it",
  );
}

/** Waits longer than the grace, then checks the session is still there. */
async function assertKept(
  admin: AdminClient,
  sessionId: string,
): Promise<void> {
  // Several graces: a log off would have come by now (this checks that
  // none comes, not how fast anything is).
  await delay(GRACE * 1000 * 3);
  assert(await admin.session(sessionId), `${sessionId} is kept`);
}

Deno.test(
  "an app session ends with its last app; a desktop does not",
  OPTIONS,
  async (t) => {
    const teardown = new Teardown();
    try {
      const editor = sleepCommand();
      const terminal = sleepCommand();
      const shell = sleepCommand();
      const notes = sleepCommand();
      const config = await writeGatewayConfig({
        users: ["alice", "bob", "carol", "dave"],
        workspaces: [
          {
            id: "editor",
            name: "Text Editor",
            kind: "app",
            command: { linux: editor },
          },
          {
            id: "terminal",
            name: "Terminal",
            kind: "app",
            command: { linux: terminal },
          },
          {
            id: "notes",
            name: "Notes",
            kind: "app",
            command: { linux: notes },
          },
          {
            id: "desk",
            name: "Desktop",
            kind: "desktop",
            desktop: { shell: "command", command: shell },
          },
        ],
        licence: { checkinInterval: 1, staleAfter: 600 },
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const host = await launchHost(teardown, gateway.url, {
        slots: 4,
        settings: { appExitGrace: GRACE },
      });
      await admin.waitForHealthy([host]);

      await t.step(
        "an app that exits: its tab is told, and the session is logged off",
        async () => {
          const alice = await signIn(gateway.url, "alice");
          const launched = await alice.launchOk("editor");
          const tab = await openTab(alice, launched);
          await endProcessRunning(editor);
          await assertClosed(tab, "Text Editor");
          await assertLoggedOff(gateway, admin, alice, launched.sessionId);
        },
      );

      await t.step(
        "two apps in one session: the first exiting does not end it, the second does",
        async () => {
          const bob = await signIn(gateway.url, "bob");
          const first = await bob.launchOk("editor");
          const { sessionId } = first;
          const second = await bob.launchOk("terminal", sessionId);
          assertEquals(second.sessionId, sessionId, "shared");
          // (One viewer at a time without shadowing: the newest tab.)
          const terminalTab = await openTab(bob, second);
          await endProcessRunning(editor);
          await hostSawClose(host, sessionId, 1);
          await assertServed(terminalTab);
          await assertKept(admin, sessionId);

          // Launched again into the session, it starts again.
          const again = await bob.launchOk("editor", sessionId);
          assertEquals(again.sessionId, sessionId);
          const editorTab = await openTab(bob, again);
          await endProcessRunning(editor);
          await assertClosed(editorTab, "Text Editor");
          await hostSawClose(host, sessionId, 2);
          await assertKept(admin, sessionId);

          const last = await bob.launchOk("terminal", sessionId);
          const lastTab = await openTab(bob, last);
          await endProcessRunning(terminal);
          await assertClosed(lastTab, "Terminal");
          await assertLoggedOff(gateway, admin, bob, sessionId);
        },
      );

      await t.step(
        "a desktop is not logged off, while its shell runs nor after",
        async () => {
          const carol = await signIn(gateway.url, "carol");
          const launched = await carol.launchOk("desk");
          const tab = await openTab(carol, launched);
          await assertKept(admin, launched.sessionId);
          await endProcessRunning(shell);
          await hostSawClose(host, launched.sessionId, 1);
          assert(
            host.process.logs.some((r) =>
              r.msg === "app closed" && r.sessionId === launched.sessionId &&
              r.kept === "desktop"
            ),
            "kept as a desktop",
          );
          await assertKept(admin, launched.sessionId);
          await assertServed(tab);
          await tab.close();
        },
      );
      await t.step(
        "a streamer restarted in an app session keeps it, and takes its app up",
        async () => {
          const dave = await signIn(gateway.url, "dave");
          const launched = await dave.launchOk("notes");
          const { sessionId } = launched;
          const tab = await openTab(dave, launched);
          const resolved = await resolveSession(gateway.url, sessionId);
          const streamer = await findStreamer(JSON.parse(resolved.body).Port);
          assert(streamer, "the session's streamer runs");
          // The app starts once the session's window manager is up: killed
          // before that, the streamer would leave no app to take up.
          await waitFor(
            async () =>
              (await liveProcesses()).some((p) => p.argv.join(" ") === notes),
            { what: "the app to run" },
          );
          Deno.kill(streamer.pid, "SIGKILL");
          await tab.closed;
          await waitFor(
            () =>
              host.process.logs.some((r) =>
                r.msg === "streamer restarted in its session" &&
                r.sessionId === sessionId
              ),
            { what: "the streamer to be restarted in its session" },
          );
          const again = await dave.launchOk("notes", sessionId);
          assertEquals(again.sessionId, sessionId);
          const newTab = await openTab(dave, again);
          await assertKept(admin, sessionId);
          const running = (await liveProcesses()).filter((p) =>
            p.argv.join(" ") === notes
          );
          assertEquals(running.length, 1, "the app runs on, once");
          // The new streamer took it up: its exit closes the tab and ends
          // the session as before.
          await endProcessRunning(notes);
          await assertClosed(newTab, "Notes");
          await assertLoggedOff(gateway, admin, dave, sessionId);
        },
      );
    } finally {
      await teardown.run();
    }
  },
);
