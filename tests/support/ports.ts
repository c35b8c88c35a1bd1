/**
 * Loopback ports for tests: a single free port, or a base port whose pool
 * layout (`base`, `base + 1`, `base + N × 10`) is free.
 *
 * Both come from outside the kernel's ephemeral range
 * (`net.ipv4.ip_local_port_range`): a port a test picks now and listens on
 * later could meanwhile be the local end of an outgoing connection, and
 * then stays taken in TIME_WAIT for a minute after it closes (a busy
 * machine has thousands), so the listen fails with "address in use".
 * Nor is a port handed out twice by one test process: a host picked but
 * not started yet does not listen, so its ports would look free.
 *
 * @module
 */

/** The lowest port handed out (below are well-known services). */
const LOWEST = 10_000;

/** The highest port handed out. */
const HIGHEST = 65_000;

/** The kernel's ephemeral range, `[low, high]` (Linux's default without `/proc`). */
function ephemeralRange(): [number, number] {
  try {
    const text = Deno.readTextFileSync(
      "/proc/sys/net/ipv4/ip_local_port_range",
    );
    const [low, high] = text.trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // Not Linux: assume its default.
  }
  return [32_768, 60_999];
}

/**
 * A random `size`-aligned block start whose `span` ports lie outside the
 * ephemeral range.
 */
function randomStart(size: number, span: number): number {
  const [low, high] = ephemeralRange();
  const starts: [number, number][] = [
    [LOWEST, low - span],
    [high + 1, HIGHEST - span],
  ];
  const choices = starts.flatMap(([from, to]) => {
    const first = Math.ceil(from / size);
    const last = Math.floor(to / size);
    return last >= first ? [[first, last]] : [];
  });
  const total = choices.reduce((n, [first, last]) => n + last - first + 1, 0);
  if (!total) throw new Error("no ports outside the ephemeral range");
  let pick = Math.floor(Math.random() * total);
  for (const [first, last] of choices) {
    if (pick <= last - first) return (first + pick) * size;
    pick -= last - first + 1;
  }
  throw new Error("unreachable");
}

/** Every port handed out by this process. */
const handedOut = new Set<number>();

function isFree(port: number): boolean {
  if (handedOut.has(port)) return false;
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A port outside the ephemeral range that nothing listens on right now. */
export function freePort(): number {
  for (let tries = 0; tries < 200; tries++) {
    const port = randomStart(1, 0);
    if (isFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found");
}

/** A `basePortNumber` with `base`, `base+1`, `base+5` and `slots` streamer ports free. */
export function freeBasePort(slots: number): number {
  for (let tries = 0; tries < 200; tries++) {
    const base = randomStart(100, Math.max(5, slots * 10));
    const ports = [base, base + 1, base + 5];
    for (let n = 1; n <= slots; n++) ports.push(base + n * 10);
    if (ports.every(isFree)) {
      for (const port of ports) handedOut.add(port);
      return base;
    }
  }
  throw new Error("no free block of ports found");
}
