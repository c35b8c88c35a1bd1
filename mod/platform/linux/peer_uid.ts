/**
 * Finds which user owns the other end of a local TCP connection by reading
 * `/proc/net/tcp` and `/proc/net/tcp6`. This is how the session manager
 * checks that a streamer claiming `webs01` really runs as `webs01`.
 *
 * @module
 */

/** The tables searched, IPv4 first. */
export const TCP_TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];

/** The `st` column of an established connection. */
const ESTABLISHED = "01";

/** Options for {@linkcode socketOwnerUid}. */
export interface SocketOwnerOptions {
  /**
   * The port the socket is connected to (this server's): a connection of
   * the same local address to anywhere else is not the one asked about.
   */
  serverPort?: number;
  /** The tables searched. Default {@linkcode TCP_TABLES}. */
  tables?: string[];
}

/**
 * The uid owning the live (established) socket bound to `address`, if
 * exactly one owner has one. Rows in other states are passed over: a
 * closed connection lingers in TIME_WAIT with uid 0 under the same local
 * address, and the kernel gives one ephemeral port to several connections
 * at once when their far ends differ (so `serverPort` narrows the search to
 * the connection to this server). Two owners for one address is no answer
 * (undefined).
 */
export async function socketOwnerUid(
  address: Deno.NetAddr,
  options: SocketOwnerOptions = {},
): Promise<number | undefined> {
  const wanted = new Set(procAddresses(address));
  const serverPort = options.serverPort === undefined
    ? undefined
    : hexPort(options.serverPort);
  const owners = new Set<number>();
  for (const table of options.tables ?? TCP_TABLES) {
    let text: string;
    try {
      text = await Deno.readTextFile(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (
        fields.length > 7 && fields[3] === ESTABLISHED &&
        wanted.has(fields[1]) &&
        (serverPort === undefined || fields[2].endsWith(`:${serverPort}`))
      ) {
        owners.add(Number(fields[7]));
      }
    }
  }
  return owners.size === 1 ? [...owners][0] : undefined;
}

/** A port as the kernel's tables spell it: four upper-case hex digits. */
function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, "0");
}

/** The spellings `address` has in the kernel's TCP tables. */
export function procAddresses(address: Deno.NetAddr): string[] {
  const port = hexPort(address.port);
  const host = address.hostname.replace(/^\[|\]$/g, "");
  const v4 = host.match(/^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i);
  if (v4) {
    const bytes = v4.slice(1, 5).map(Number);
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...bytes];
    return [`${words(bytes)}:${port}`, `${words(mapped)}:${port}`];
  }
  return [`${words(ipv6Bytes(host))}:${port}`];
}

/** Each 32-bit word in host (little-endian) order, as the kernel prints it. */
function words(bytes: number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    for (let j = 3; j >= 0; j--) {
      out += bytes[i + j].toString(16).toUpperCase().padStart(2, "0");
    }
  }
  return out;
}

function ipv6Bytes(host: string): number[] {
  const [head, tail = ""] = host.split("::");
  const part = (s: string): number[] =>
    s ? s.split(":").map((h) => parseInt(h, 16)) : [];
  const hi = part(head);
  const lo = host.includes("::") ? part(tail) : [];
  const groups = [...hi, ...Array(8 - hi.length - lo.length).fill(0), ...lo];
  return groups.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
}
