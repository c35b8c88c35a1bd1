/**
 * A loopback TCP relay whose connections the test can cut: what a client
 * sees when the process at the other end is killed (the connection just
 * ends, no WebSocket close frame), without killing anything. It can also
 * stop listening (the other end is gone: connections are refused) and
 * listen again on the same port (it came back). Given fallback ports it is
 * also the simplest load balancer in front of several gateways: each
 * connection goes to the first target that accepts it.
 *
 * @module
 */

/** A relay from a loopback port to `target`. */
export interface TcpCutter {
  /** The relay's port. */
  port: number;
  /** How many connections it has relayed. */
  connections(): number;
  /** How many connections it has relayed to `port`. */
  connectionsTo(port: number): number;
  /** Ends every relayed connection at once (both sides). */
  cut(): void;
  /** Stops accepting: new connections are refused. */
  pause(): void;
  /** Accepts again, on the same port. */
  resume(): void;
  /** Cuts everything and stops listening. */
  close(): void;
}

/** Options for {@linkcode startTcpCutter}. */
export interface TcpCutterOptions {
  /** Ports tried in turn when `targetPort` refuses a connection. */
  fallbackPorts?: number[];
}

/**
 * Starts a relay on a free loopback port to `127.0.0.1:targetPort` (or the
 * first of `fallbackPorts` that accepts).
 */
export function startTcpCutter(
  targetPort: number,
  options: TcpCutterOptions = {},
): TcpCutter {
  const targets = [targetPort, ...options.fallbackPorts ?? []];
  const open = new Set<Deno.Conn>();
  const relayedTo = new Map<number, number>();
  let total = 0;
  let listener: Deno.Listener | undefined;
  let port = 0;

  const pipe = async (from: Deno.Conn, to: Deno.Conn): Promise<void> => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // Cut.
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      open.delete(conn);
    }
  };

  const accept = async (l: Deno.Listener): Promise<void> => {
    for await (const client of l) {
      total++;
      let server: Deno.Conn | undefined;
      for (const target of targets) {
        try {
          server = await Deno.connect({ hostname: "127.0.0.1", port: target });
          relayedTo.set(target, (relayedTo.get(target) ?? 0) + 1);
          break;
        } catch {
          // Refused: the next one.
        }
      }
      if (!server) {
        client.close();
        continue;
      }
      open.add(client).add(server);
      pipe(client, server);
      pipe(server, client);
    }
  };

  const listen = (): void => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    accept(listener).catch(() => {});
  };

  const cut = (): void => {
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    open.clear();
  };

  listen();
  return {
    port,
    connections: () => total,
    connectionsTo: (target) => relayedTo.get(target) ?? 0,
    cut,
    pause() {
      listener?.close();
      listener = undefined;
    },
    resume() {
      if (!listener) listen();
    },
    close() {
      listener?.close();
      listener = undefined;
      cut();
    },
  };
}
