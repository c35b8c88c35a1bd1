/**
 * A self-signed certificate for `localhost` and `127.0.0.1`, made with
 * `openssl` in a temporary folder, for tests that serve or call HTTPS on
 * loopback.
 *
 * @module
 */
import { runCommand } from "./command.ts";

/** A certificate and its key, as files and as PEM text. */
export interface SelfSigned {
  /** The folder holding both files. */
  dir: string;
  /** The certificate (PEM file). */
  certFile: string;
  /** The private key (PEM file). */
  keyFile: string;
  /** The certificate's PEM text (a CA for clients: it signs itself). */
  cert: string;
  /** The key's PEM text. */
  key: string;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/** Makes a fresh self-signed certificate valid for a day. */
export async function selfSignedCertificate(): Promise<SelfSigned> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-tls-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const result = await runCommand("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      // rustls refuses a certificate marked as a CA as the server's own.
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
  });
  if (!result.ok) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`openssl failed: ${result.stderr}`);
  }
  return {
    dir,
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
