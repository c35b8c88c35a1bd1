/**
 * The loopback RDP client that creates a slot's Remote Desktop session: it
 * connects to `127.0.0.2` (Windows refuses an RDP connection to 127.0.0.1
 * from the same machine) as the pool account and stays connected for the
 * session's life; when it exits, the session is over for webstream.
 *
 * The client is a configurable command (FreeRDP's `wfreerdp.exe` by
 * default). The password is written to its standard input and never appears
 * on its command line, where every local user could read it; any output the
 * client writes is kept (for error messages) with the password masked.
 *
 * @module
 */

/** The loopback address the client connects to. */
export const LOOPBACK_RDP_SERVER = "127.0.0.2";

/**
 * The placeholders {@linkcode rdpLaunch} fills in arguments. `{password}`
 * is not among them: it is only filled in standard input.
 */
export const RDP_ARGUMENT_PLACEHOLDERS: readonly string[] = [
  "server",
  "account",
  "domain",
  "width",
  "height",
];

/**
 * How the RDP client is started. `args` and `stdin` may use the
 * placeholders `{server}`, `{account}`, `{domain}` (this computer's name:
 * pool accounts are local), `{width}` and `{height}`; `stdin` also
 * `{password}`, which is refused in `args`.
 */
export interface RdpClientConfig {
  /** The executable (a path, or a name found on PATH). */
  command: string;
  /** Its arguments. */
  args: readonly string[];
  /** What is written to its standard input. */
  stdin: string;
}

/**
 * FreeRDP: `/from-stdin:force` reads the missing credentials from standard
 * input before connecting — with `/u:` and `/d:` given, only the password
 * (without `/d:` FreeRDP would first ask for a domain and take the password
 * line for it); `/cert:ignore` accepts the host's own self-signed
 * certificate; `+auto-reconnect` rides out short network hiccups.
 */
export const DEFAULT_RDP_CLIENT: RdpClientConfig = {
  command: "wfreerdp.exe",
  args: [
    "/v:{server}",
    "/u:{account}",
    "/d:{domain}",
    "/from-stdin:force",
    "/cert:ignore",
    "/size:{width}x{height}",
    "/bpp:32",
    "-clipboard",
    "+auto-reconnect",
  ],
  stdin: "{password}\n",
};

/** The values filled into the placeholders. */
export interface RdpClientValues {
  /** `{server}`. */
  server: string;
  /** `{account}`. */
  account: string;
  /** `{domain}`: the computer's name, the pool accounts' domain. */
  domain: string;
  /** `{password}` (standard input only). */
  password: string;
  /** `{width}`. */
  width: number;
  /** `{height}`. */
  height: number;
}

/** A fully expanded client start. */
export interface RdpLaunch {
  /** The executable. */
  command: string;
  /** Its arguments (no secret in them). */
  args: string[];
  /** Standard input (holds the password). */
  stdin: string;
  /** The secret masked in anything kept from the client's output. */
  secret: string;
  /** Working folder. */
  cwd?: string;
}

/**
 * Expands `config` for one logon.
 *
 * @throws {Error} for `{password}` in an argument, an unknown placeholder,
 * or a password with a line break or NUL (it is sent as one line).
 */
export function rdpLaunch(
  config: RdpClientConfig,
  values: RdpClientValues,
): RdpLaunch {
  if (/[\r\n\0]/.test(values.password)) {
    throw new Error("an RDP password may not contain a line break or NUL");
  }
  const fill = (text: string, secretAllowed: boolean): string =>
    text.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (name === "password") {
        if (!secretAllowed) {
          throw new Error(
            "the RDP client's arguments may not hold {password}: command lines are readable by every local user",
          );
        }
        return values.password;
      }
      if (name === "server") return values.server;
      if (name === "account") return values.account;
      if (name === "domain") return values.domain;
      if (name === "width") return String(values.width);
      if (name === "height") return String(values.height);
      throw new Error(`unknown placeholder {${name}} in the RDP client setup`);
    });
  return {
    command: config.command,
    args: config.args.map((arg) => fill(arg, false)),
    stdin: fill(config.stdin, true),
    secret: values.password,
  };
}

/** A running RDP client. */
export interface RdpProcess {
  /** Its process id. */
  readonly pid: number;
  /** Resolves, with how it ended (`code 131`), once it has exited. */
  readonly exited: Promise<string>;
  /** The last lines it wrote, the password masked. */
  output(): string;
  /** Ends it and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts an RDP client; the platform's default is {@linkcode spawnRdpClient}. */
export type RdpLauncher = (launch: RdpLaunch) => RdpProcess;

/** Options for {@linkcode spawnRdpClient}. */
export interface SpawnRdpOptions {
  /** Sees every line the client writes, as written (for test observers). */
  onLine?: (line: string) => void;
}

const KEPT_LINES = 20;

/** Starts the client as a child process and writes `launch.stdin` to it. */
export function spawnRdpClient(
  launch: RdpLaunch,
  options: SpawnRdpOptions = {},
): RdpProcess {
  const child = new Deno.Command(launch.command, {
    args: launch.args,
    cwd: launch.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kept: string[] = [];
  const mask = (line: string): string =>
    launch.secret ? line.replaceAll(launch.secret, "[redacted]") : line;
  const take = (line: string): void => {
    options.onLine?.(line);
    kept.push(mask(line));
    if (kept.length > KEPT_LINES) kept.shift();
  };
  const feed = (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(launch.stdin));
      await writer.close();
    } catch {
      // It exited before reading; `exited` says how.
    }
  })();
  const exited = Promise.all([
    child.status,
    readLines(child.stdout, take),
    readLines(child.stderr, take),
    feed,
  ]).then(([status]) =>
    status.signal ? `signal ${status.signal}` : `code ${status.code}`
  );
  return {
    pid: child.pid,
    exited,
    output: () => kept.join("\n"),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await exited;
    },
  };
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  take: (line: string) => void,
): Promise<void> {
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split(/\r?\n/);
      rest = lines.pop()!;
      lines.forEach(take);
    }
  } catch {
    // A broken pipe ends the output like EOF does.
  }
  if (rest) take(rest);
}
