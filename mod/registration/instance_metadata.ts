/**
 * EC2 instance identity through IMDSv2: a session token from
 * `PUT /latest/api/token`, then `instance-type` and `instance-id`, each with a
 * short timeout. In `auto` mode the metadata service is only asked on a
 * machine whose firmware says it is an EC2 instance, so hosts elsewhere never
 * send traffic to 169.254.169.254.
 *
 * @module
 */

/** What the metadata service told us (fields absent when unknown). */
export interface InstanceIdentity {
  /** e.g. `g4dn.xlarge`. */
  instanceType?: string;
  /** e.g. `i-0123456789abcdef0`. */
  ec2InstanceId?: string;
}

/** Options for {@linkcode readInstanceMetadata}. */
export interface InstanceMetadataOptions {
  /** `auto`: only on EC2 hardware; `on`: always ask; `off`: never. */
  mode: "auto" | "on" | "off";
  /** Base URL of the metadata service. */
  baseUrl: string;
  /** Timeout per request. Default 1000 ms. */
  timeoutMs?: number;
  /** Files that identify EC2 hardware (for tests). */
  markerFiles?: string[];
}

/** Firmware files whose contents mention Amazon EC2 on EC2 instances. */
export const EC2_MARKERS = [
  "/sys/devices/virtual/dmi/id/sys_vendor",
  "/sys/devices/virtual/dmi/id/board_vendor",
  "/sys/hypervisor/uuid",
];

/** True when this machine's firmware identifies it as an EC2 instance. */
export async function looksLikeEc2(markers = EC2_MARKERS): Promise<boolean> {
  for (const file of markers) {
    try {
      const text = (await Deno.readTextFile(file)).trim().toLowerCase();
      if (text.includes("amazon") || text.startsWith("ec2")) return true;
    } catch {
      // Not present on this machine.
    }
  }
  return false;
}

/** Asks IMDSv2 for the instance type and id; never throws. */
export async function readInstanceMetadata(
  options: InstanceMetadataOptions,
): Promise<InstanceIdentity> {
  if (options.mode === "off") return {};
  if (options.mode === "auto" && !(await looksLikeEc2(options.markerFiles))) {
    return {};
  }
  const base = options.baseUrl.replace(/\/$/, "");
  const timeout = options.timeoutMs ?? 1000;
  try {
    const tokenResponse = await fetch(`${base}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
      signal: AbortSignal.timeout(timeout),
    });
    if (!tokenResponse.ok) {
      await tokenResponse.body?.cancel();
      return {};
    }
    const token = await tokenResponse.text();
    const get = async (path: string): Promise<string | undefined> => {
      const response = await fetch(`${base}/latest/meta-data/${path}`, {
        headers: { "X-aws-ec2-metadata-token": token },
        signal: AbortSignal.timeout(timeout),
      });
      const text = (await response.text()).trim();
      return response.ok && text ? text : undefined;
    };
    return {
      instanceType: await get("instance-type"),
      ec2InstanceId: await get("instance-id"),
    };
  } catch {
    return {};
  }
}
