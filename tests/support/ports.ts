/**
 * Loopback ports for tests: a single free port, or a base port whose pool
 * layout (`base`, `base + 1`, `base + N × 10`) is free.
 *
 * @module
 */

/** A port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A `basePortNumber` with `base`, `base+1`, `base+5` and `slots` streamer ports free. */
export function freeBasePort(slots: number): number {
  for (let tries = 0; tries < 200; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 100;
    const ports = [base, base + 1, base + 5];
    for (let n = 1; n <= slots; n++) ports.push(base + n * 10);
    if (ports.every(isFree)) return base;
  }
  throw new Error("no free block of ports found");
}
