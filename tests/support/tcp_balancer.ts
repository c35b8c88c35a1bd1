/**
 * The "one load-balanced name" in front of several gateways, as a farm
 * operator deploys it (HAProxy, nginx `stream`, a cloud load balancer), made
 * small for tests: a loopback TCP listener that relays each connection to
 * the first of its targets that accepts one, in order (primary, then
 * backups). A target that is gone (its process killed) refuses, so new
 * connections go to the next; connections relayed to it end with it.
 *
 * @module
 */

/** A balancer on a loopback port. */
export interface TcpBalancer {
  /** Its port. */
  port: number;
  /** Connections relayed to each target port so far. */
  relayed(): Map<number, number>;
  /** Stops listening and ends every relayed connection. */
  close(): void;
}

/** Starts a balancer on a free loopback port before `targetPorts`. */
export function startTcpBalancer(targetPorts: number[]): TcpBalancer {
  const open = new Set<Deno.Conn>();
  const relayed = new Map<number, number>();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });

  const close = (conn: Deno.Conn): void => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
    open.delete(conn);
  };

  const pipe = async (from: Deno.Conn, to: Deno.Conn): Promise<void> => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // One side ended.
    }
    close(from);
    close(to);
  };

  /** The first target that accepts a connection, or undefined. */
  const connect = async (): Promise<Deno.Conn | undefined> => {
    for (const port of targetPorts) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        relayed.set(port, (relayed.get(port) ?? 0) + 1);
        return conn;
      } catch {
        // Gone: the next one.
      }
    }
    return undefined;
  };

  (async () => {
    for await (const client of listener) {
      open.add(client);
      connect().then((server) => {
        if (!server) return close(client);
        open.add(server);
        pipe(client, server);
        pipe(server, client);
      });
    }
  })().catch(() => {});

  return {
    port: (listener.addr as Deno.NetAddr).port,
    relayed: () => new Map(relayed),
    close() {
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      for (const conn of [...open]) close(conn);
    },
  };
}
