/**
 * The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`): the
 * ports it gives the local end of outgoing connections. A server port in it
 * can be taken by one when the server starts listening (and stays taken in
 * TIME_WAIT for a minute after that connection closes).
 *
 * @module
 */

/** Where Linux publishes the range. */
export const PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range";

/** An inclusive range of ports. */
export interface PortRange {
  /** Lowest port. */
  low: number;
  /** Highest port. */
  high: number;
}

/** The range in the file's text (`"32768\t60999\n"`); undefined if malformed. */
export function parsePortRange(text: string): PortRange | undefined {
  const match = text.trim().match(/^(\d+)\s+(\d+)$/);
  if (!match) return undefined;
  const [low, high] = [Number(match[1]), Number(match[2])];
  return low <= high && high <= 65_535 ? { low, high } : undefined;
}

/** The ephemeral range of this machine; undefined where it cannot be read. */
export async function ephemeralPortRange(
  path: string = PORT_RANGE_FILE,
): Promise<PortRange | undefined> {
  try {
    return parsePortRange(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}
