/**
 * A loopback TCP relay whose connections the test can cut: what a client
 * sees when the process at the other end is killed (the connection just
 * ends, no WebSocket close frame), without killing anything. It can also
 * stop listening (the other end is gone: connections are refused) and
 * listen again on the same port (it came back).
 *
 * @module
 */

/** A relay from a loopback port to `target`. */
export interface TcpCutter {
  /** The relay's port. */
  port: number;
  /** How many connections it has relayed. */
  connections(): number;
  /** Ends every relayed connection at once (both sides). */
  cut(): void;
  /** Stops accepting: new connections are refused. */
  pause(): void;
  /** Accepts again, on the same port. */
  resume(): void;
  /** Cuts everything and stops listening. */
  close(): void;
}

/** Starts a relay on a free loopback port to `127.0.0.1:targetPort`. */
export function startTcpCutter(targetPort: number): TcpCutter {
  const open = new Set<Deno.Conn>();
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
      let server: Deno.Conn;
      try {
        server = await Deno.connect({
          hostname: "127.0.0.1",
          port: targetPort,
        });
      } catch {
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
