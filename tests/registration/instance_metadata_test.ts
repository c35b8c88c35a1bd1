/**
 * Instance identity through IMDSv2 against a fake metadata service on
 * loopback (never 169.254.169.254): the token handshake and its headers, a
 * refused token, a service that never answers, `off` sending nothing, and
 * `auto` asking only when a firmware marker file names Amazon EC2.
 *
 * @module
 */
import {
  looksLikeEc2,
  readInstanceMetadata,
} from "../../mod/registration/instance_metadata.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "AQAEAFakeTokenForTests==";
const INSTANCE_TYPE = "g4dn.xlarge";
const INSTANCE_ID = "i-0123456789abcdef0";

/** One request the fake metadata service received. */
interface ImdsRequest {
  method: string;
  path: string;
  headers: Headers;
}

/** How the fake metadata service behaves. */
type ImdsMode = "ok" | "refuse-token" | "hang";

interface FakeImds {
  url: string;
  requests: ImdsRequest[];
  stop(): Promise<void>;
}

function startFakeImds(mode: ImdsMode = "ok"): FakeImds {
  const requests: ImdsRequest[] = [];
  const hanging = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      requests.push({ method: request.method, path, headers: request.headers });
      if (mode === "hang") {
        await new Promise<void>((resolve) => hanging.add(resolve));
        return new Response(null, { status: 504 });
      }
      if (path === "/latest/api/token") {
        if (mode === "refuse-token") {
          return new Response("Forbidden", { status: 403 });
        }
        const ttl = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds");
        if (request.method !== "PUT" || !ttl) {
          return new Response("Bad Request", { status: 400 });
        }
        return new Response(TOKEN);
      }
      // IMDSv2: metadata only with the session token.
      if (request.headers.get("x-aws-ec2-metadata-token") !== TOKEN) {
        return new Response("Unauthorized", { status: 401 });
      }
      if (path === "/latest/meta-data/instance-type") {
        return new Response(INSTANCE_TYPE);
      }
      if (path === "/latest/meta-data/instance-id") {
        return new Response(`${INSTANCE_ID}\n`);
      }
      return new Response("Not Found", { status: 404 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async stop() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
}

/** Writes marker files into a fresh temp folder. */
async function markers(
  contents: Record<string, string>,
): Promise<{ dir: string; files: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-imds-" });
  const files = [];
  for (const [name, text] of Object.entries(contents)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
    files.push(`${dir}/${name}`);
  }
  return { dir, files };
}

Deno.test({
  name: "instance metadata: mode on performs the IMDSv2 token handshake",
  sanitizeResources: false,
  async fn() {
    const imds = startFakeImds();
    try {
      const identity = await readInstanceMetadata({
        mode: "on",
        baseUrl: `${imds.url}/`,
        timeoutMs: 5000,
      });
      assertEquals(identity, {
        instanceType: INSTANCE_TYPE,
        ec2InstanceId: INSTANCE_ID,
      });
      assertEquals(
        imds.requests.map((r) => `${r.method} ${r.path}`),
        [
          "PUT /latest/api/token",
          "GET /latest/meta-data/instance-type",
          "GET /latest/meta-data/instance-id",
        ],
      );
      const [put, ...gets] = imds.requests;
      const ttl = Number(
        put.headers.get("x-aws-ec2-metadata-token-ttl-seconds"),
      );
      assert(Number.isInteger(ttl) && ttl > 0, `ttl ${ttl}`);
      for (const get of gets) {
        assertEquals(get.headers.get("x-aws-ec2-metadata-token"), TOKEN);
      }
    } finally {
      await imds.stop();
    }
  },
});

Deno.test({
  name: "instance metadata: a refused token gives an empty identity",
  sanitizeResources: false,
  async fn() {
    const imds = startFakeImds("refuse-token");
    try {
      const identity = await readInstanceMetadata({
        mode: "on",
        baseUrl: imds.url,
        timeoutMs: 5000,
      });
      assertEquals(identity, {});
      // No metadata asked for without a token.
      assertEquals(imds.requests.map((r) => r.method), ["PUT"]);
    } finally {
      await imds.stop();
    }
  },
});

Deno.test({
  name: "instance metadata: a service that never answers gives {} in time",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const imds = startFakeImds("hang");
    try {
      let identity: unknown;
      const reading = readInstanceMetadata({
        mode: "on",
        baseUrl: imds.url,
        timeoutMs: 200,
      }).then((value) => identity = value);
      // The bound only catches a hang; it asserts no speed.
      await waitFor(() => identity !== undefined, {
        timeoutMs: 10_000,
        what: "readInstanceMetadata to give up",
      });
      await reading;
      assertEquals(identity, {});
      assertEquals(imds.requests.length, 1);
    } finally {
      await imds.stop();
    }
  },
});

Deno.test({
  name: "instance metadata: mode off sends nothing",
  sanitizeResources: false,
  async fn() {
    const imds = startFakeImds();
    const { dir, files } = await markers({ sys_vendor: "Amazon EC2\n" });
    try {
      const identity = await readInstanceMetadata({
        mode: "off",
        baseUrl: imds.url,
        markerFiles: files,
      });
      assertEquals(identity, {});
      assertEquals(imds.requests.length, 0);
    } finally {
      await imds.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "instance metadata: mode auto asks only on EC2 hardware",
  sanitizeResources: false,
  async fn(t) {
    const cases: {
      name: string;
      contents: Record<string, string>;
      missing?: boolean;
      asks: boolean;
    }[] = [
      {
        name: "sys_vendor says Amazon EC2",
        contents: { sys_vendor: "Amazon EC2\n" },
        asks: true,
      },
      {
        name: "a Xen hypervisor uuid starting with ec2",
        contents: {
          sys_vendor: "Xen\n",
          uuid: "ec2e1916-9099-7caf-fd21-012345abcdef\n",
        },
        asks: true,
      },
      {
        name: "another vendor",
        contents: { sys_vendor: "QEMU\n", board_vendor: "Dell Inc.\n" },
        asks: false,
      },
      {
        name: "no marker files at all",
        contents: {},
        missing: true,
        asks: false,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const imds = startFakeImds();
        const { dir, files } = await markers(c.contents);
        if (c.missing) files.push(`${dir}/sys_vendor`, `${dir}/uuid`);
        try {
          assertEquals(await looksLikeEc2(files), c.asks);
          const identity = await readInstanceMetadata({
            mode: "auto",
            baseUrl: imds.url,
            timeoutMs: 5000,
            markerFiles: files,
          });
          if (c.asks) {
            assertEquals(identity, {
              instanceType: INSTANCE_TYPE,
              ec2InstanceId: INSTANCE_ID,
            });
            assertEquals(imds.requests.length, 3);
          } else {
            assertEquals(identity, {});
            assertEquals(imds.requests.length, 0);
          }
        } finally {
          await imds.stop();
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  },
});
