/**
 * `webstream streamer`: runs inside a pool session. It connects to the
 * session manager's `/control`, identifies itself with
 * `REQUEST_SESSION_INFO:{username}`, applies `SESSION_INFO` (starting the
 * session's app when a command line comes with it), then serves viewers on
 * its port with `webstream/2` (screen, input, clipboard, uploads). A viewer
 * must present a one-time token the session manager armed, and gets the
 * policy armed with it; one viewer at a time (a new one replaces the old,
 * e.g. after a network drop) unless the policy allows shadowing. It checks
 * in with the gateway's licence endpoint and reports metrics and activity as
 * the host is configured. When the session manager closes the control
 * channel, the streamer exits. When the channel drops (the session manager
 * crashed or restarts), the streamer keeps serving its viewers and
 * reconnects (`RESUME_SESSION`); if the manager stays gone for
 * `orphanTimeout`, the streamer ends its session's processes and exits.
 *
 * {@linkcode runStreamer} only composes the parts, each a module of its
 * own: `control_channel.ts` (the `/control` socket), `session.ts` (the
 * manager's messages applied), `viewer_server.ts` (the viewers' endpoint),
 * `apps.ts` (the session's apps), `session_reporting.ts` and
 * `session_metrics.ts` (check-ins, metrics, activity), and the session's
 * devices from `mod/devices/`.
 *
 * @module
 */
import { userInfo } from "node:os";
import { openSessionDevices, type SessionDevices } from "../devices/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Apps } from "./apps.ts";
import { appRecordPath } from "./app_record.ts";
import { ControlChannel } from "./control_channel.ts";
import { StreamerSession } from "./session.ts";
import { endSessionProcesses } from "./session_end.ts";
import { SessionMetrics } from "./session_metrics.ts";
import { SessionSound } from "./session_sound.ts";
import { videoAvailable } from "./video/encoder.ts";
import { type GatewaySettings, SessionReporting } from "./session_reporting.ts";
import type { ViewerContext } from "./viewer.ts";

export type { GatewaySettings } from "./session_reporting.ts";

/** Options for {@linkcode runStreamer}. */
export interface StreamerOptions {
  /** The session manager's `/control` URL. */
  control: string;
  /** Port to serve viewers on. */
  port: number;
  /** Address to bind. */
  bind: string;
  /** Pool account to identify as. Default: the OS user this process runs as. */
  user?: string;
  /** Licence check-ins with the gateway, when one is configured. */
  licence?: GatewaySettings;
  /** `-reporting JSON`: metrics and activity settings (with `licence`). */
  reporting?: string;
  /**
   * The session's screen and clipboard; closed when the streamer stops.
   * Default: this OS's ({@linkcode openSessionDevices}; tests may pass
   * their own display's).
   */
  devices?: SessionDevices;
  /** Media flow control (tests). */
  media?: ViewerContext["media"];
  /** The session's PulseAudio server. Default `$PULSE_SERVER` (none: no sound). */
  soundServer?: string;
  /** Offer video. Default: when libx264 loads. */
  video?: boolean;
  /**
   * How long the session manager may stay unreachable before the session
   * ends itself, in seconds. Default 300.
   */
  orphanTimeout?: number;
  /**
   * Ends the session's processes when it is orphaned. Default
   * {@linkcode endSessionProcesses} (tests pass their own).
   */
  endSession?: () => Promise<void>;
  /** Logger. */
  logger: Logger;
}

/** Why the streamer stopped. */
export interface StreamerExit {
  /** Exit code for the process. */
  code: number;
  /** Human-readable reason. */
  reason: string;
}

/** Runs the streamer until its control channel closes. */
export async function runStreamer(
  options: StreamerOptions,
): Promise<StreamerExit> {
  const { logger } = options;
  const devices = options.devices ?? openSessionDevices();
  const metrics = new SessionMetrics();
  const sound = new SessionSound({
    server: options.soundServer ?? Deno.env.get("PULSE_SERVER"),
    logger,
  });
  const reporting: SessionReporting = new SessionReporting({
    gateway: options.licence,
    reporting: options.reporting,
    sample: () => metrics.sample(session.viewers),
    onRefused: (reason) => {
      logger.warn("ending the session", { reason });
      control.close(4403, reason.slice(0, 100));
    },
    logger,
  });
  const apps: Apps = new Apps({
    logger,
    record: appRecordPath(),
    onStarted: (program) => reporting.activity("app_launch", program),
    // An app has closed once no process started from its command runs
    // and no window of it is left (a launcher that hands its window to a
    // child and exits has not closed; its last window closing will).
    onExited: (app) => {
      if (!apps.runs(app.command) && !session.appHasWindows(app.command)) {
        session.appClosed(app.command);
      }
    },
  });
  const session: StreamerSession = new StreamerSession({
    bind: options.bind,
    port: options.port,
    control: {
      send: (message) => control.send(message),
      close: (code, reason) => control.close(code, reason),
    },
    devices,
    apps,
    reporting,
    metrics,
    media: options.media,
    sound,
    videoAvailable: options.video ?? videoAvailable(),
    logger,
  });
  const control: ControlChannel = new ControlChannel(options.control, {
    username: options.user ?? userInfo().username,
    handlers: session.handlers,
    logger,
    resumeAs: () => session.sessionUuid,
    orphanTimeoutMs: (options.orphanTimeout ?? 300) * 1000,
    onResumed: () => session.resumed(),
  });

  const closed = await control.closed;
  const result: StreamerExit = {
    code: session.identified ? 0 : 1,
    reason: closed.orphaned
      ? `orphaned: no session manager for ${options.orphanTimeout ?? 300} s`
      : `control channel closed (${closed.code}${
        closed.reason ? ` ${closed.reason}` : ""
      })`,
  };
  await reporting.stop();
  await session.close();
  await sound.close();
  devices.close();
  apps.stopAll();
  logger.info("streamer stopping", { reason: result.reason });
  if (closed.orphaned) {
    await (options.endSession ?? (() => endSessionProcesses(logger)))();
  }
  return result;
}
