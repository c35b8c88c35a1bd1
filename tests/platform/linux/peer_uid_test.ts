/**
 * Tests for `mod/platform/linux/peer_uid.ts`: the kernel spellings of
 * 127.0.0.1, ::1 and ::ffff:127.0.0.1 (checked against known forms and
 * against the live `/proc/net/tcp*` tables), the owner of a real loopback
 * client socket (this process, over IPv4, IPv6 and a dual-stack listener),
 * an unknown address, and (root) a client socket held by a process running as
 * a test user, which is reported with that user's uid. Only established
 * rows count: a TIME_WAIT row (uid 0) left under the same local address by
 * an earlier connection is passed over, two live owners of one address are
 * no answer, and with the server's port only the connection to it counts.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { spawnQuiet } from "../../support/command.ts";
import { withTestUser } from "../../support/pool_users.ts";
import {
  procAddresses,
  socketOwnerUid,
  TCP_TABLES,
} from "../../../mod/platform/linux/peer_uid.ts";
import { signalGroup } from "../../../mod/platform/linux/processes.ts";
import { withTempDir } from "../../support/fs.ts";

const ROOT = Deno.uid() === 0;

function addr(hostname: string, port: number): Deno.NetAddr {
  return { transport: "tcp", hostname, port };
}

Deno.test("procAddresses: known kernel spellings", () => {
  const mapped = "0000000000000000FFFF00000100007F:1F90";
  assertEquals(procAddresses(addr("127.0.0.1", 8080)), [
    "0100007F:1F90",
    mapped,
  ]);
  // A v4-mapped peer may own an IPv4 socket or a dual-stack IPv6 one.
  assertEquals(procAddresses(addr("::ffff:127.0.0.1", 8080)), [
    "0100007F:1F90",
    mapped,
  ]);
  assertEquals(procAddresses(addr("::FFFF:127.0.0.1", 8080)), [
    "0100007F:1F90",
    mapped,
  ]);
  assertEquals(procAddresses(addr("::1", 443)), [
    "00000000000000000000000001000000:01BB",
  ]);
  assertEquals(procAddresses(addr("[::1]", 443)), [
    "00000000000000000000000001000000:01BB",
  ]);
  assertEquals(procAddresses(addr("10.1.2.3", 1)), [
    "0302010A:0001",
    "0000000000000000FFFF00000302010A:0001",
  ]);
  assertEquals(procAddresses(addr("fe80::1:abcd", 65535)), [
    "000080FE0000000000000000CDAB0100:FFFF",
  ]);
  assertEquals(procAddresses(addr("2001:db8:0:0:1:2:3:4", 80)), [
    "B80D0120000000000200010004000300:0050",
  ]);
});

/** The local-address column of every row in `table`. */
async function localAddresses(table: string): Promise<string[]> {
  return (await Deno.readTextFile(table)).split("\n").slice(1)
    .map((line) => line.trim().split(/\s+/)[1]).filter(Boolean);
}

/** A listener, a client connected to it, and the accepted end. */
async function loopbackPair(
  listenHost: string,
  connectHost: string,
): Promise<{
  listener: Deno.TcpListener;
  client: Deno.TcpConn;
  accepted: Deno.TcpConn;
  close(): void;
}> {
  const listener = Deno.listen({ hostname: listenHost, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const [client, accepted] = await Promise.all([
    Deno.connect({ hostname: connectHost, port }),
    listener.accept(),
  ]);
  return {
    listener,
    client,
    accepted,
    close() {
      client.close();
      accepted.close();
      listener.close();
    },
  };
}

Deno.test("procAddresses: matches the live kernel table", async () => {
  const v4 = await loopbackPair("127.0.0.1", "127.0.0.1");
  try {
    const spelled = procAddresses(v4.listener.addr as Deno.NetAddr)[0];
    assert((await localAddresses("/proc/net/tcp")).includes(spelled), spelled);
  } finally {
    v4.close();
  }
  const v6 = await loopbackPair("::1", "::1");
  try {
    const [spelled] = procAddresses(v6.listener.addr as Deno.NetAddr);
    assert((await localAddresses("/proc/net/tcp6")).includes(spelled), spelled);
  } finally {
    v6.close();
  }
});

Deno.test("socketOwnerUid: a loopback client socket is owned by this process's uid", async () => {
  const pair = await loopbackPair("127.0.0.1", "127.0.0.1");
  try {
    const peer = pair.accepted.remoteAddr as Deno.NetAddr;
    assertEquals(peer.hostname, "127.0.0.1");
    assertEquals(await socketOwnerUid(peer), Deno.uid());
  } finally {
    pair.close();
  }
});

Deno.test("socketOwnerUid: over IPv6 loopback", async () => {
  const pair = await loopbackPair("::1", "::1");
  try {
    const peer = pair.accepted.remoteAddr as Deno.NetAddr;
    assertEquals(await socketOwnerUid(peer), Deno.uid());
  } finally {
    pair.close();
  }
});

Deno.test("socketOwnerUid: a v4 client of a dual-stack listener", async () => {
  const pair = await loopbackPair("::", "127.0.0.1");
  try {
    const peer = pair.accepted.remoteAddr as Deno.NetAddr;
    // The listener sees a v4-mapped address; the client's socket is IPv4.
    assertEquals(peer.hostname, "::ffff:127.0.0.1");
    assertEquals(await socketOwnerUid(peer), Deno.uid());
  } finally {
    pair.close();
  }
});

Deno.test("socketOwnerUid: undefined when no socket has that address", async () => {
  const pair = await loopbackPair("127.0.0.1", "127.0.0.1");
  try {
    const peer = pair.accepted.remoteAddr as Deno.NetAddr;
    // Nothing here binds 127.0.0.3.
    assertEquals(await socketOwnerUid(addr("127.0.0.3", peer.port)), undefined);
    // The same live peer is not found in tables that do not exist.
    assertEquals(
      await socketOwnerUid(peer, { tables: ["/proc/net/no-such-table"] }),
      undefined,
    );
    // Found in the IPv4 table alone, not in the IPv6 one.
    assertEquals(
      await socketOwnerUid(peer, { tables: ["/proc/net/tcp"] }),
      Deno.uid(),
    );
    assertEquals(
      await socketOwnerUid(peer, { tables: ["/proc/net/tcp6"] }),
      undefined,
    );
    assertEquals(TCP_TABLES, ["/proc/net/tcp", "/proc/net/tcp6"]);
  } finally {
    pair.close();
  }
});

/** A `/proc/net/tcp` row: local and remote address, state, uid. */
function row(local: string, remote: string, state: string, uid: number) {
  return `   0: ${local} ${remote} ${state} 00000000:00000000 00:00000000 ` +
    `00000000 ${uid.toString().padStart(5)}        0 4242 1 0000000000000000 ` +
    "100 0 0 10 0";
}

Deno.test("socketOwnerUid: only established rows, and one owner", async () => {
  await withTempDir(async (dir) => {
    const header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr " +
      "tm->when retrnsmt   uid  timeout inode";
    const streamer = "0100007F:D4E8"; // 127.0.0.1:54504
    const host = "0100007F:1F90"; // 127.0.0.1:8080
    const table = async (...rows: string[]) => {
      const path = `${dir}/tcp`;
      await Deno.writeTextFile(path, [header, ...rows, ""].join("\n"));
      return { tables: [path] };
    };
    const peer = addr("127.0.0.1", 54504);
    // An earlier connection from the same port lingers in TIME_WAIT (06),
    // listed first and owned by uid 0; the live one is the pool user's.
    assertEquals(
      await socketOwnerUid(
        peer,
        await table(
          row(streamer, "0100007F:9C40", "06", 0),
          row(host, "0100007F:1F91", "0A", 0),
          row(streamer, host, "01", 1234),
        ),
      ),
      1234,
    );
    // Nothing live: no owner.
    assertEquals(
      await socketOwnerUid(peer, await table(row(streamer, host, "06", 0))),
      undefined,
    );
    // The port shared by two live connections (to different far ends) of
    // one user: that user; of two users: no answer.
    const other = "0100007F:9C40"; // 127.0.0.1:40000
    const shared = (elsewhere: number) =>
      table(
        row(streamer, other, "01", elsewhere),
        row(streamer, host, "01", 77),
      );
    assertEquals(await socketOwnerUid(peer, await shared(77)), 77);
    assertEquals(await socketOwnerUid(peer, await shared(0)), undefined);
    // With this server's port, only the connection to it counts.
    const options = await shared(0);
    for (
      const [serverPort, uid] of [[8080, 77], [40000, 0], [9999, undefined]]
    ) {
      assertEquals(
        await socketOwnerUid(peer, { ...options, serverPort }),
        uid,
        `server port ${serverPort}`,
      );
    }
  }, { prefix: "webstream-peer-uid-" });
});

Deno.test({
  name: "socketOwnerUid: a connection made by a test user reports its uid",
  ignore: !ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTestUser("pee", async (user) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      let child: Deno.ChildProcess | undefined;
      let accepted: Deno.TcpConn | undefined;
      try {
        child = spawnQuiet("bash", {
          args: ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}; sleep 5`],
          uid: user.uid,
          gid: user.gid,
          cwd: "/",
          detached: true,
        });
        accepted = await listener.accept();
        const peer = accepted.remoteAddr as Deno.NetAddr;
        assertEquals(await socketOwnerUid(peer), user.uid);
        // And not this process's own client sockets' owner.
        assert(user.uid !== Deno.uid());
      } finally {
        accepted?.close();
        listener.close();
        // The sleep is in the child's group, so the user is left idle.
        if (child) {
          signalGroup(child.pid, "SIGKILL");
          await child.status;
        }
      }
    }),
});
