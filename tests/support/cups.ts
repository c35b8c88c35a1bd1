/**
 * A private CUPS for tests: `cupsd` in the foreground with its own
 * configuration, spool, state and logs in a temporary folder, listening only
 * on a Unix socket there, with one cups-pdf queue (`cups-pdf:/`, whose
 * output is each job owner's `~/PDF`, from the packaged
 * `/etc/cups/cups-pdf.conf`). Apps reach it with `CUPS_SERVER=<socket>`.
 * The test stops it by its PID; nothing of the host's own CUPS is touched.
 *
 * Needs root and the Debian packages cups, cups-client and
 * printer-driver-cups-pdf.
 *
 * @module
 */
import { runCommand, spawnQuiet } from "./command.ts";
import { waitFor } from "./wait.ts";

/** The queue's name. */
export const PDF_QUEUE = "webstream-pdf";

/** A running private CUPS. */
export interface TestCups {
  /** The socket: `CUPS_SERVER` for `lp`. */
  socket: string;
  /** The cups-pdf queue (also the default destination). */
  queue: string;
  /** The scheduler's log, for a failing test's message. */
  log(): Promise<string>;
  /** Stops cupsd (by its PID) and removes its folder. */
  stop(): Promise<void>;
}

/** Whether cupsd, lpadmin and the cups-pdf backend are installed. */
export function hasCupsPdf(): boolean {
  for (const path of ["/usr/sbin/cupsd", "/usr/sbin/lpadmin", "/usr/bin/lp"]) {
    try {
      Deno.statSync(path);
    } catch {
      return false;
    }
  }
  try {
    return Deno.statSync("/usr/lib/cups/backend/cups-pdf").isFile;
  } catch {
    return false;
  }
}

/** Starts a private cupsd with a cups-pdf queue. */
export async function startCups(): Promise<TestCups> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-cups-" });
  // Pool users reach the socket, and cupsd's user (lp) its folders.
  await Deno.chmod(dir, 0o755);
  for (const sub of ["etc/ppd", "spool/tmp", "cache", "state", "log"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  const socket = `${dir}/cups.sock`;
  const cupsd = [
    `Listen ${socket}`,
    "LogLevel info",
    "WebInterface No",
    "Browsing No",
    "<Location />",
    "  Order allow,deny",
    "  Allow all",
    "</Location>",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/cupsd.conf`, `${cupsd}\n`);
  await Deno.writeTextFile(`${dir}/etc/cupsd.conf`, `${cupsd}\n`);
  await Deno.writeTextFile(
    `${dir}/cups-files.conf`,
    [
      `ServerRoot ${dir}/etc`,
      `RequestRoot ${dir}/spool`,
      `TempDir ${dir}/spool/tmp`,
      `CacheDir ${dir}/cache`,
      `StateDir ${dir}/state`,
      `ErrorLog ${dir}/log/error_log`,
      `AccessLog ${dir}/log/access_log`,
      `PageLog ${dir}/log/page_log`,
      `Printcap ${dir}/printcap`,
      "User lp",
      "Group lp",
      "SystemGroup root",
      "FileDevice No",
    ].join("\n") + "\n",
  );
  const child = spawnQuiet("/usr/sbin/cupsd", {
    args: ["-f", "-c", `${dir}/cupsd.conf`, "-s", `${dir}/cups-files.conf`],
  });
  const log = () =>
    Deno.readTextFile(`${dir}/log/error_log`).catch(() => "(no log)");
  const stop = async () => {
    try {
      Deno.kill(child.pid, "SIGTERM");
    } catch {
      // Ended already.
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor(async () => {
      try {
        return (await Deno.lstat(socket)).isSocket;
      } catch {
        return false;
      }
    }, { what: "cupsd to listen" });
    for (
      const args of [
        [
          "-p",
          PDF_QUEUE,
          "-E",
          "-v",
          "cups-pdf:/",
          "-P",
          "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd",
        ],
        ["-d", PDF_QUEUE],
      ]
    ) {
      const result = await runCommand("/usr/sbin/lpadmin", {
        args: ["-h", socket, ...args],
      });
      if (!result.ok) throw new Error(`lpadmin ${args[0]}: ${result.stderr}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { socket, queue: PDF_QUEUE, log, stop };
}
