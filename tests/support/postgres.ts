/**
 * A real PostgreSQL cluster for tests (Debian's `postgresql` package, its
 * newest version): made with `initdb` in a temporary folder and run by
 * `postgres` as an unprivileged user (the `postgres` account when the tests
 * run as root), listening on loopback on a free port and on a Unix socket
 * in that folder. A test may halt it (a database down) and resume it on the
 * same port. It is stopped by its PID and its folder removed.
 *
 * @module
 */
import { runCommand, spawnQuiet } from "./command.ts";
import { freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

/**
 * Where Debian installs the newest PostgreSQL's programs
 * (`/usr/lib/postgresql/<major>/bin`), if any.
 */
function serverBin(): string | undefined {
  try {
    const majors = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => Number(entry.name))
      .filter((major) => Number.isInteger(major))
      .sort((a, b) => b - a);
    for (const major of majors) {
      const bin = `/usr/lib/postgresql/${major}/bin`;
      if (Deno.statSync(`${bin}/postgres`).isFile) return bin;
    }
  } catch {
    // Not installed.
  }
  return undefined;
}

const BIN = serverBin();

/** A running test cluster. */
export interface TestPostgres {
  /** A connection string for its `postgres` database over loopback TCP. */
  url: string;
  /** The folder with its Unix socket. */
  socketDir: string;
  /** The loopback port. */
  port: number;
  /** A connection string for a fresh, empty database (created now). */
  createDatabase(): Promise<string>;
  /** Stops the server (by its PID), keeping its data: a database down. */
  halt(): Promise<void>;
  /** Starts the server again on the same port, with the same data. */
  resume(): Promise<void>;
  /** Stops the server (by its PID) and removes its folder. */
  stop(): Promise<void>;
}

/** True when Debian's PostgreSQL server is installed. */
export function hasPostgres(): boolean {
  return BIN !== undefined;
}

/** The account the server runs as: ourselves, or `postgres` as root. */
async function serverAccount(): Promise<{ uid: number; gid: number }> {
  if (Deno.uid() !== 0) return { uid: Deno.uid()!, gid: Deno.gid()! };
  const [uid, gid] = await Promise.all(
    ["-u", "-g"].map(async (flag) => {
      const result = await runCommand("id", { args: [flag, "postgres"] });
      if (!result.ok) throw new Error(`no postgres account: ${result.stderr}`);
      return Number(result.stdout.trim());
    }),
  );
  return { uid, gid };
}

let databases = 0;

/** Starts a private PostgreSQL cluster (see the module). */
export async function startPostgres(): Promise<TestPostgres> {
  if (!BIN) throw new Error("PostgreSQL is not installed (Debian: postgresql)");
  const dir = await Deno.makeTempDir({ prefix: "webstream-pg-" });
  const account = await serverAccount();
  await Deno.chown(dir, account.uid, account.gid);
  const data = `${dir}/data`;
  const user = "webstream";
  const init = await runCommand(`${BIN}/initdb`, {
    args: ["-D", data, "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
    ...account,
    env: { LC_ALL: "C" },
  });
  if (!init.ok) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const port = freePort();
  const url = `postgres://${user}@127.0.0.1:${port}/postgres`;
  const psql = (sql: string) =>
    runCommand(`${BIN}/psql`, {
      args: ["-h", dir, "-p", String(port), "-U", user, "-d", "postgres"]
        .concat(["-v", "ON_ERROR_STOP=1", "-c", sql]),
    });
  let server: Deno.ChildProcess | undefined;
  const halt = async () => {
    if (!server) return;
    try {
      // SIGINT: PostgreSQL's fast shutdown (disconnects clients, then exits).
      Deno.kill(server.pid, "SIGINT");
    } catch {
      // Ended already.
    }
    await server.status;
    server = undefined;
  };
  const resume = async () => {
    server = spawnQuiet(`${BIN}/postgres`, {
      args: [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        // A test cluster: nothing here must survive a crash of the machine.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      ...account,
    });
    await waitFor(async () => (await psql("SELECT 1")).ok, {
      what: "PostgreSQL to accept connections",
    });
  };
  const stop = async () => {
    await halt();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await resume();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    socketDir: dir,
    port,
    async createDatabase() {
      const name = `test_${Deno.pid}_${++databases}`;
      const result = await psql(`CREATE DATABASE ${name}`);
      if (!result.ok) throw new Error(`CREATE DATABASE: ${result.stderr}`);
      return `postgres://${user}@127.0.0.1:${port}/${name}`;
    },
    halt,
    resume,
    stop,
  };
}
