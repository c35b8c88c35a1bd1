/**
 * What the streamer tells the gateway about its session: licence check-ins
 * (`licence.ts`) and, when the host configures them, metrics and activity
 * (`reporting.ts`). Both start with the session's first connection token —
 * the session is in use from then on — and stop with the streamer.
 * `session_start` is reported with the first viewer, `session_end` at the
 * stop if a viewer ever came.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { LICENCE_PROOF_ENV } from "../contract/licence_proof.ts";
import { type LicenceCheckins, startLicenceCheckins } from "./licence.ts";
import {
  type ActivityEvent,
  type MetricsSample,
  type Reporting,
  reportingSchema,
  type ReportingSettings,
  startReporting,
} from "./reporting.ts";

/** Where the gateway is, for check-ins and reports. */
export interface GatewaySettings {
  /** `gateway.backend.gatewayUrl`: one gateway or several, in order. */
  gatewayUrl: string | readonly string[];
  /** The host's `serverUrl`. */
  serverUrl: string;
  /** A CA certificate (PEM file) for the gateway. */
  caCertificate?: string;
}

/** Options for {@linkcode SessionReporting}. */
export interface SessionReportingOptions {
  /** The gateway; without one, nothing is reported. */
  gateway?: GatewaySettings;
  /** `-reporting JSON`: metrics and activity settings (with `gateway`). */
  reporting?: string;
  /** Takes (and resets) the metrics figures of the interval. */
  sample: () => MetricsSample;
  /** The gateway refused the session (it must end). */
  onRefused: (reason: string) => void;
  /** Logger. */
  logger: Logger;
}

/** Before the first token, or reporting for a session. */
type State =
  | { phase: "idle" }
  | {
    phase: "running";
    checkins?: LicenceCheckins;
    reporting?: Reporting;
    viewerCame: boolean;
  }
  | { phase: "stopped" };

/** The session's check-ins and reports. */
export class SessionReporting {
  readonly #options: SessionReportingOptions;
  readonly #settings?: ReportingSettings;
  #state: State = { phase: "idle" };

  /** Parses the reporting settings (an invalid one is logged and ignored). */
  constructor(options: SessionReportingOptions) {
    this.#options = options;
    if (options.reporting && options.gateway) {
      this.#settings = parseReportingSettings(options.reporting);
      if (!this.#settings) {
        options.logger.error("invalid -reporting settings; not reporting");
      }
    }
  }

  /** Starts check-ins and reports for `sessionUuid` (once). */
  start(sessionUuid: string): void {
    const { gateway, logger } = this.#options;
    if (this.#state.phase !== "idle" || !gateway) return;
    const proof = Deno.env.get(LICENCE_PROOF_ENV);
    const checkins = startLicenceCheckins({
      ...gateway,
      proof,
      sessionUuid,
      logger,
      onRefused: this.#options.onRefused,
    });
    const reporting = this.#settings
      ? startReporting({
        ...gateway,
        proof,
        sessionUuid,
        settings: this.#settings,
        sample: this.#options.sample,
        logger,
      })
      : undefined;
    this.#state = { phase: "running", checkins, reporting, viewerCame: false };
  }

  /** Reports an activity event, if reporting runs and asks for it. */
  activity(event: ActivityEvent, detail?: string): void {
    if (this.#state.phase !== "running") return;
    this.#state.reporting?.activity(event, detail);
  }

  /** A viewer connected: the first one starts the session (`session_start`). */
  viewerConnected(): void {
    if (this.#state.phase !== "running" || this.#state.viewerCame) return;
    this.#state.viewerCame = true;
    this.activity("session_start");
  }

  /** Stops checking in; reports `session_end` and the last metrics. */
  async stop(): Promise<void> {
    const state = this.#state;
    this.#state = { phase: "stopped" };
    if (state.phase !== "running") return;
    state.checkins?.stop();
    if (state.viewerCame) state.reporting?.activity("session_end");
    await state.reporting?.stop();
  }
}

/** `-reporting JSON` parsed; undefined when it is not valid. */
export function parseReportingSettings(
  json: string,
): ReportingSettings | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const parsed = reportingSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
