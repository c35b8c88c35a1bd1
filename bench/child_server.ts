/**
 * The loopback servers the benchmarks run as child processes (the baseline
 * and echo servers): starting one and learning its port, stopping it by its
 * PID, and, in the child, serving until SIGTERM or SIGINT.
 *
 * @module
 */

/** A loopback server running as a child process. */
export interface ChildServer {
  /** Its PID. */
  pid: number;
  /** Its port. */
  port: number;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/**
 * Runs `deno run -A script` as a child process that prints `{"port":N}` on
 * stdout once it listens (as `serveChild` does).
 */
export async function startChildServer(
  script: URL,
  args: string[] = [],
): Promise<ChildServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", script.pathname, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async (): Promise<void> => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    // A graceful stop that hangs is cut short.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5000);
    await child.status;
    clearTimeout(timer);
  };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${script.pathname} exited before listening`);
      text += value;
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    const { port } = JSON.parse(text.slice(0, text.indexOf("\n")));
    return { pid: child.pid, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * In the child: serves `handler` on 127.0.0.1:`port` (0: a free one), prints
 * `{"port":N}` once listening, and exits 0 after a graceful shutdown on
 * SIGTERM or SIGINT.
 */
export async function serveChild(
  handler: Deno.ServeHandler,
  port = 0,
): Promise<never> {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => console.log(JSON.stringify({ port })),
  }, handler);
  const shutdown = (): void => {
    server.shutdown();
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
  await server.finished;
  Deno.exit(0);
}
