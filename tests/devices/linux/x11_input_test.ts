/**
 * Tests for `mod/devices/linux/x11_input.ts` on a real Xvfb, with real X
 * clients reading the injected input: the pointer lands exactly where sent
 * and is clamped to the screen; clicks and wheel notches reach `xev` as
 * ButtonPress/ButtonRelease with the right button numbers and coordinates;
 * keys reach `xev` by physical key, with Shift, Enter, a character the US
 * layout lacks ("é" through a spare keycode) and a layout mismatch ("@" on
 * KeyQ), each key-up releasing the keycode its key-down pressed;
 * dead keys are not pressed (the composed character that follows is typed),
 * AltGr characters from German and French layouts (Linux and Windows
 * style, where Ctrl comes with AltGr) are typed with no Ctrl or Alt in
 * effect and AltGr itself is never pressed, and keys with no code type composed text;
 * `releaseAll` releases exactly what is held; and text typed into a real
 * `xterm` running `cat` arrives in a file. Each X client gets a first key
 * (and has its keymap) before a spare keycode is bound.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { waitFor } from "../../support/wait.ts";
import { XDisplay } from "../../../ffi/x11/display.ts";
import { getKeyboardMapping } from "../../../ffi/x11/keyboard.ts";
import { queryPointer } from "../../../ffi/x11/image.ts";
import { stopProcessGroup } from "../../../mod/platform/linux/processes.ts";
import {
  encodeXauthority,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import { startXvfb } from "../../../mod/platform/linux/xvfb.ts";
import {
  openX11Input,
  SPARE_KEYCODES,
  X11Input,
} from "../../../mod/devices/linux/x11_input.ts";
import { keysymForCharacter } from "../../../mod/devices/linux/keymap.ts";

interface Env {
  dir: string;
  name: string;
  /** DISPLAY and XAUTHORITY (and PATH) for X clients. */
  clientEnv: Record<string, string>;
  /** A second connection, to watch the server. */
  observe: XDisplay;
}

/** Runs `fn` with a fresh 1024×768 Xvfb and a connection to watch it. */
async function withX(fn: (env: Env) => void | Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
    const server = await startXvfb({
      authFile,
      screen: { width: 1024, height: 768, depth: 24 },
    });
    const name = `:${server.display}`;
    const previous = Deno.env.get("XAUTHORITY");
    Deno.env.set("XAUTHORITY", authFile);
    let observe: XDisplay | undefined;
    try {
      observe = XDisplay.open(name);
      await fn({
        dir,
        name,
        observe,
        clientEnv: {
          DISPLAY: name,
          XAUTHORITY: authFile,
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          LANG: "C.UTF-8",
          LC_ALL: "C.UTF-8",
        },
      });
    } finally {
      observe?.close();
      if (previous === undefined) Deno.env.delete("XAUTHORITY");
      else Deno.env.set("XAUTHORITY", previous);
      await stopProcessGroup(server.child, { graceMs: 2_000 });
    }
  }, { prefix: "webstream-input-" });
}

function xTest(name: string, fn: (env: Env) => void | Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withX(fn),
  });
}

/** A running X client whose standard output is collected. */
interface Client {
  output(): string;
  stop(): Promise<void>;
}

/** Starts an X client; it is stopped by its own PID. */
function startClient(env: Env, command: string, args: string[]): Client {
  const child = new Deno.Command(command, {
    args,
    env: env.clientEnv,
    clearEnv: true,
    cwd: env.dir,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
    }
  })().catch(() => {});
  return {
    output: () => text,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      await reading;
    },
  };
}

/** `xev` in a 300×300 window at the top-left corner, once it is mapped. */
async function startXev(env: Env): Promise<Client> {
  const xev = startClient(env, "xev", ["-geometry", "300x300+0+0"]);
  try {
    await waitFor(() => /MapNotify/.test(xev.output()), {
      timeoutMs: 10_000,
      what: "xev's window",
    });
  } catch (error) {
    await xev.stop();
    throw error;
  }
  return xev;
}

interface ButtonEvent {
  type: string;
  button: number;
  root: [number, number];
  window: [number, number];
}

function buttonEvents(text: string): ButtonEvent[] {
  const pattern =
    /(ButtonPress|ButtonRelease) event.*\n.*\((-?\d+),(-?\d+)\), root:\((-?\d+),(-?\d+)\),\n\s+state 0x[0-9a-f]+, button (\d+)/g;
  return [...text.matchAll(pattern)].map((m) => ({
    type: m[1],
    button: Number(m[6]),
    root: [Number(m[4]), Number(m[5])],
    window: [Number(m[2]), Number(m[3])],
  }));
}

interface KeyEvent {
  type: string;
  state: number;
  keycode: number;
  keysym: string;
}

function keyEvents(text: string): KeyEvent[] {
  const pattern =
    /(KeyPress|KeyRelease) event.*\n.*\n\s+state 0x([0-9a-f]+), keycode (\d+) \(keysym 0x[0-9a-f]+, ([^)]+)\)/g;
  return [...text.matchAll(pattern)].map((m) => ({
    type: m[1],
    state: parseInt(m[2], 16),
    keycode: Number(m[3]),
    keysym: m[4],
  }));
}

/**
 * Waits until the server has the pointer at `at`: the sink's connection
 * and the watching one are separate, so the server may read the watcher's
 * query first.
 */
async function pointerAt(env: Env, at: [number, number]): Promise<void> {
  let last: number[] = [];
  await waitFor(() => {
    const state = queryPointer(env.observe);
    last = [state.x, state.y];
    return last[0] === at[0] && last[1] === at[1];
  }, { timeoutMs: 5_000, what: `pointer at ${at}` }).catch(() => {});
  assertEquals(last, at);
}

/** Waits until Shift, Control and Button1 in the pointer mask are `bits`. */
async function maskIs(env: Env, bits: number): Promise<void> {
  let last = -1;
  await waitFor(() => {
    last = queryPointer(env.observe).mask & 0x105;
    return last === bits;
  }, { timeoutMs: 5_000, what: `mask ${bits}` }).catch(() => {});
  assertEquals(last, bits);
}

/** Presses and releases one browser key. */
function tap(sink: X11Input, code: string, key: string): void {
  sink.key(code, key, true);
  sink.key(code, key, false);
}

/**
 * Types Escape twice, waiting each time until `xev` has shown its release.
 * xev loads its keymap at its first key event and only then asks to follow
 * mapping changes (its request waits in its output buffer until its event
 * queue runs empty): a spare keycode bound meanwhile is never seen by it
 * (it shows NoSymbol). It read the second Escape after sending that
 * request. An app that has run for a while has its keymap long since.
 */
async function keymapLoaded(xev: Client, sink: X11Input): Promise<void> {
  for (let count = 1; count <= 2; count++) {
    tap(sink, "Escape", "Escape");
    await waitFor(
      () =>
        keyEvents(xev.output()).filter((e) =>
          e.type === "KeyRelease" && e.keysym === "Escape"
        ).length >= count,
      { timeoutMs: 10_000, what: `xev's Escape ${count}` },
    );
  }
}

function openSink(env: Env): X11Input {
  const sink = openX11Input({ display: env.name });
  assert(sink instanceof X11Input);
  return sink;
}

xTest("x11 input: the pointer lands where sent, clamped", async (env) => {
  const sink = openSink(env);
  try {
    for (const [x, y] of [[0, 0], [511, 300], [1023, 767], [7, 700]]) {
      sink.pointer(x, y, 0);
      await pointerAt(env, [x, y]);
    }
    sink.pointer(5000, -3, 0);
    await pointerAt(env, [1023, 0]);
  } finally {
    sink.close();
  }
});

xTest(
  "x11 input: clicks and wheel reach xev at the coordinates",
  async (env) => {
    const xev = await startXev(env);
    const sink = openSink(env);
    try {
      sink.pointer(120, 45, 0);
      sink.pointer(120, 45, 1); // left down
      sink.pointer(120, 45, 0);
      sink.pointer(200, 100, 2); // right down
      sink.pointer(200, 100, 2 | 4); // + middle
      sink.pointer(210, 110, 0); // move and release both
      sink.wheel(0, 2);
      sink.wheel(0, -1);
      sink.wheel(1, 0);
      sink.wheel(-1, 0);
      sink.pointer(50, 60, 8); // back
      sink.pointer(50, 60, 16); // forward instead
      sink.pointer(50, 60, 0);
      assertEquals(sink.heldButtons, 0);
      await waitFor(() => buttonEvents(xev.output()).length >= 20, {
        timeoutMs: 10_000,
        what: "20 button events",
      });
      const events = buttonEvents(xev.output());
      const summary = events.map((e) =>
        `${e.type === "ButtonPress" ? "+" : "-"}${e.button}@${e.root.join(",")}`
      );
      assertEquals(summary, [
        "+1@120,45",
        "-1@120,45",
        "+3@200,100",
        "+2@200,100",
        "-3@210,110",
        "-2@210,110",
        "+5@210,110",
        "-5@210,110",
        "+5@210,110",
        "-5@210,110",
        "+4@210,110",
        "-4@210,110",
        "+7@210,110",
        "-7@210,110",
        "+6@210,110",
        "-6@210,110",
        "+8@50,60",
        "-8@50,60",
        "+9@50,60",
        "-9@50,60",
      ]);
      // Window coordinates are the root's less the window's fixed offset.
      const offsets = new Set(
        events.map((e) =>
          `${e.root[0] - e.window[0]},${e.root[1] - e.window[1]}`
        ),
      );
      assertEquals(offsets.size, 1);
    } finally {
      sink.close();
      await xev.stop();
    }
  },
);

xTest(
  "x11 input: keys reach xev by code, shifted and by fallback",
  async (env) => {
    const xev = await startXev(env);
    const sink = openSink(env);
    try {
      sink.pointer(150, 150, 0); // focus follows the pointer (no WM)
      await keymapLoaded(xev, sink);
      tap(sink, "KeyA", "a");
      sink.key("ShiftLeft", "Shift", true);
      tap(sink, "KeyA", "A");
      tap(sink, "Digit1", "!");
      sink.key("ShiftLeft", "Shift", false);
      tap(sink, "Enter", "Enter");
      sink.key("KeyE", "é", true); // a French layout's key; US lacks é
      assertEquals(sink.heldKeycodes.length, 1);
      const eacuteKeycode = sink.heldKeycodes[0];
      assert(sink.spareKeycodes.includes(eacuteKeycode));
      sink.key("KeyE", "é", false);
      tap(sink, "KeyQ", "@"); // layout mismatch: @ is Shift+2 here
      // A shifted character with no Shift down (automation, on-screen
      // keyboards): typed by keysym, with Shift, not as the unshifted key.
      tap(sink, "Quote", '"');
      tap(sink, "", "€"); // no code at all
      sink.key("", "", true); // nothing to type: ignored
      sink.key("NoSuchCode", "", true);
      assertEquals(sink.heldKeycodes, []);
      await waitFor(
        () => keyEvents(xev.output()).some((e) => e.keysym === "U20AC"),
        { timeoutMs: 10_000, what: "the euro key" },
      );
      await waitFor(
        () =>
          keyEvents(xev.output()).filter((e) => e.type === "KeyRelease")
            .some((e) => e.keycode === 11),
        { timeoutMs: 10_000, what: "the @ release" },
      );
      const presses = keyEvents(xev.output()).filter((e) =>
        e.type === "KeyPress" && e.keysym !== "Escape"
      );
      const typed = presses.map((e) => `${e.keysym}/${e.state & 1}`);
      assertEquals(typed, [
        "a/0",
        "Shift_L/0",
        "A/1",
        "exclam/1",
        "Return/0",
        "eacute/0",
        "Shift_L/0",
        "at/1",
        "Shift_L/0",
        "quotedbl/1",
        "U20AC/0",
      ]);
      const releases = keyEvents(xev.output()).filter((e) =>
        e.type === "KeyRelease"
      );
      assert(releases.some((e) => e.keycode === eacuteKeycode));
      assertEquals(
        presses.find((e) => e.keysym === "eacute")?.keycode,
        eacuteKeycode,
      );
    } finally {
      sink.close();
      await xev.stop();
    }
  },
);

/** X modifier bits: Shift, Control, Mod1 (Alt). */
const SHIFT_MASK = 0x1;
const CONTROL_MASK = 0x4;
const MOD1_MASK = 0x8;

xTest(
  "x11 input: dead keys, AltGr (Linux and Windows style) and text keys",
  async (env) => {
    const xev = await startXev(env);
    const sink = openSink(env);
    try {
      sink.pointer(150, 150, 0);
      await keymapLoaded(xev, sink);
      // German `^` dead key, then e: the browser sends "Dead", then "ê".
      tap(sink, "Backquote", "Dead");
      tap(sink, "KeyE", "ê");
      // German ´ dead key (Equal), then a: "á".
      tap(sink, "Equal", "Dead");
      tap(sink, "KeyA", "á");
      // German AltGr+q → "@" as Chromium on Linux sends it.
      sink.key("AltRight", "AltGraph", true);
      tap(sink, "KeyQ", "@");
      tap(sink, "KeyE", "€");
      sink.key("AltRight", "AltGraph", false);
      // The same as Chromium on Windows sends it: Ctrl, then AltGraph.
      sink.key("ControlLeft", "Control", true);
      sink.key("AltRight", "AltGraph", true);
      tap(sink, "KeyQ", "@");
      sink.key("AltRight", "AltGraph", false);
      sink.key("ControlLeft", "Control", false);
      // French AltGr+0 → "@".
      sink.key("AltRight", "AltGraph", true);
      tap(sink, "Digit0", "@");
      sink.key("AltRight", "AltGraph", false);
      // Ctrl+c still goes by key, with Control held.
      sink.key("ControlLeft", "Control", true);
      tap(sink, "KeyC", "c");
      sink.key("ControlLeft", "Control", false);
      // Composed text: keys with no code.
      for (const ch of "日本") tap(sink, "", ch);
      assertEquals(sink.heldKeycodes, []);
      await waitFor(
        () => keyEvents(xev.output()).some((e) => e.keysym === "U672C"),
        { timeoutMs: 10_000, what: "the last composed character" },
      );
      const modifiers = new Set([
        "Shift_L",
        "Control_L",
        "Alt_R",
        "Meta_R",
        "ISO_Level3_Shift",
      ]);
      const presses = keyEvents(xev.output()).filter((e) =>
        e.type === "KeyPress" && !modifiers.has(e.keysym) &&
        e.keysym !== "Escape"
      );
      assertEquals(presses.map((e) => e.keysym), [
        "ecircumflex",
        "aacute",
        "at",
        "U20AC",
        "at",
        "at",
        "c",
        "U65E5",
        "U672C",
      ]);
      // The AltGr characters were typed with no Ctrl or Alt in effect (only
      // Shift, for "@" on the US layout); Ctrl+c had Control.
      for (const press of presses.filter((e) => e.keysym !== "c")) {
        assertEquals(
          press.state & (CONTROL_MASK | MOD1_MASK),
          0,
          `${press.keysym} state ${press.state}`,
        );
      }
      assertEquals(presses[2].state & SHIFT_MASK, SHIFT_MASK);
      const c = presses.find((e) => e.keysym === "c")!;
      assertEquals(c.state & CONTROL_MASK, CONTROL_MASK);
      // AltGr itself never reached the session (no lone Alt to open a
      // menu bar); no dead key reached it as a grave or an equals sign.
      assert(
        !keyEvents(xev.output()).some((e) =>
          e.keysym === "Alt_R" || e.keycode === 108
        ),
        "AltGr pressed in the session",
      );
      assert(
        !keyEvents(xev.output()).some((e) =>
          e.keysym === "grave" || e.keysym === "equal"
        ),
      );
    } finally {
      sink.close();
      await xev.stop();
    }
  },
);

xTest("x11 input: releaseAll releases held keys and buttons", async (env) => {
  const xev = await startXev(env);
  const sink = openSink(env);
  try {
    sink.pointer(100, 100, 0);
    sink.key("ShiftLeft", "Shift", true);
    sink.key("ControlLeft", "Control", true);
    sink.pointer(100, 100, 1);
    assertEquals(sink.heldKeycodes.sort(), [37, 50]);
    await maskIs(env, 0x105);
    sink.releaseAll();
    assertEquals(sink.heldKeycodes, []);
    assertEquals(sink.heldButtons, 0);
    await maskIs(env, 0);
    tap(sink, "KeyA", "a");
    await waitFor(
      () => keyEvents(xev.output()).some((e) => e.keysym === "a"),
      { timeoutMs: 10_000, what: "the a key" },
    );
    const a = keyEvents(xev.output()).find((e) => e.keysym === "a")!;
    assertEquals(a.state, 0, "no modifier held after releaseAll");
    // A key-up after releaseAll sends nothing more for that key.
    const before = keyEvents(xev.output()).length;
    sink.key("ShiftLeft", "Shift", false);
    tap(sink, "KeyB", "b");
    await waitFor(
      () => keyEvents(xev.output()).some((e) => e.keysym === "b"),
      { timeoutMs: 10_000, what: "the b key" },
    );
    assertEquals(keyEvents(xev.output()).length, before + 2);
  } finally {
    sink.close();
    await xev.stop();
  }
});

/** More characters than spare keycodes, none on the US layout. */
const UNMAPPED = [..."éßжзийклмнопрстуфх€😀"];

xTest("x11 input: close gives the spare keycodes back", (env) => {
  const sink = openSink(env);
  const spares = sink.spareKeycodes;
  assertEquals(spares.length, SPARE_KEYCODES);
  assert(UNMAPPED.length > SPARE_KEYCODES);
  for (const ch of UNMAPPED) tap(sink, "", ch);
  const during = getKeyboardMapping(env.observe);
  assertEquals(spares.filter((k) => during.isEmpty(k)).length, 0);
  sink.close();
  const after = getKeyboardMapping(env.observe);
  for (const keycode of spares) assert(after.isEmpty(keycode), `${keycode}`);
});

xTest(
  "x11 input: the spare keycode rebound is the one least recently typed",
  (env) => {
    const sink = openSink(env);
    try {
      const typed = UNMAPPED.slice(0, SPARE_KEYCODES);
      for (const ch of typed) tap(sink, "", ch);
      const keycodeOf = (ch: string) =>
        getKeyboardMapping(env.observe).find(keysymForCharacter(ch)!)?.keycode;
      const first = keycodeOf(typed[0])!;
      const second = keycodeOf(typed[1])!;
      // The first is typed again: the second is now the oldest.
      tap(sink, "", typed[0]);
      tap(sink, "", UNMAPPED[SPARE_KEYCODES]);
      assertEquals(keycodeOf(UNMAPPED[SPARE_KEYCODES]), second);
      assertEquals(keycodeOf(typed[0]), first);
      assertEquals(keycodeOf(typed[1]), undefined);
      // Every other character typed since keeps its keycode.
      for (const ch of typed.slice(2)) assert(keycodeOf(ch), ch);
    } finally {
      sink.close();
    }
  },
);

xTest("x11 input: text typed into xterm reaches cat", async (env) => {
  const file = `${env.dir}/typed.txt`;
  const xterm = startClient(env, "xterm", [
    "-geometry",
    "60x10+0+0",
    "-e",
    "sh",
    "-c",
    `cat > '${file}'`,
  ]);
  const sink = openSink(env);
  try {
    sink.pointer(100, 60, 0);
    // xterm is up once a window lies under the pointer.
    await waitFor(() => queryPointer(env.observe).child !== 0n, {
      timeoutMs: 10_000,
      what: "xterm's window",
    });
    await waitFor(() => Deno.stat(file).then(() => true), {
      timeoutMs: 10_000,
      what: "cat to start",
    });
    // A first line: xterm has its keymap before "é" takes a spare keycode.
    tap(sink, "KeyW", "w");
    tap(sink, "Enter", "Enter");
    await waitFor(
      async () => (await Deno.readTextFile(file)) === "w\n",
      { timeoutMs: 10_000, what: "the first line" },
    );
    tap(sink, "KeyH", "h");
    tap(sink, "KeyI", "i");
    sink.key("ShiftRight", "Shift", true);
    tap(sink, "Digit1", "!");
    tap(sink, "KeyA", "A");
    sink.key("ShiftRight", "Shift", false);
    tap(sink, "Space", " ");
    tap(sink, "KeyE", "é");
    tap(sink, "Enter", "Enter");
    const text = await waitFor(
      async () => {
        const text = await Deno.readTextFile(file);
        return text.split("\n").length > 2 ? text : undefined;
      },
      { timeoutMs: 10_000, what: "the typed line" },
    );
    assertEquals(text, "w\nhi!A é\n");
  } finally {
    sink.close();
    await xterm.stop();
  }
});
