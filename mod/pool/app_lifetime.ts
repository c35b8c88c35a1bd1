/**
 * Published-app semantics: an app session lives as long as its apps. When
 * the streamer reports that the last app it started in the session has
 * closed (`APP_CLOSED`), the session is logged off after
 * `webstreamSettings.appExitGrace` seconds, unless an app is launched into
 * it meanwhile. A desktop session is exempt: it ends only on log off or when
 * no viewer comes back within the reconnect grace period.
 *
 * The pool counts launches against closes: a command leaves the session's
 * `launched` set only when the streamer says it closed. A streamer restarted
 * in the session reports only the apps it knows (those it started, and
 * those it took up from its predecessor's record, `mod/streamer/app_record.ts`);
 * an app it does not know keeps the session alive (the safe side), so a
 * restart never logs a session off while its apps run.
 *
 * {@linkcode afterAppClosed} is the decision, pure; {@linkcode appClosed}
 * and {@linkcode appLaunched} apply it to a bound slot.
 *
 * @module
 */
import type { BoundSlot } from "./slot_state.ts";
import type { Slot, SlotTable } from "./slot_table.ts";
import type { LaunchRequest } from "./types.ts";

/** Why a session's end is logged, when its last app closed. */
export const LAST_APP_CLOSED = "its last app closed";

/**
 * Whether a launch makes a session that ends with its apps: every launch
 * but a desktop's (`X-Workspace-Type: desktop`).
 */
export function endsWithApps(request: LaunchRequest): boolean {
  return request.workspace.type !== "desktop";
}

/** What a bound session's apps say about it. */
export interface AppsState {
  /** Whether the session ends with its apps (not a desktop). */
  endsWithApps: boolean;
  /** The app command lines launched and not reported closed. */
  launched: ReadonlySet<string>;
}

/** What to do after an app of a session closed. */
export type AppClosedDecision =
  | { action: "keep"; reason: "desktop" | "apps still run" }
  | { action: "log off after grace" };

/**
 * Decides what an app's close means for its session, given the session's
 * state once that app is no longer counted: a desktop, or a session with
 * apps still running, goes on; an app session with none is logged off
 * after the grace period.
 */
export function afterAppClosed(state: AppsState): AppClosedDecision {
  if (!state.endsWithApps) return { action: "keep", reason: "desktop" };
  if (state.launched.size) return { action: "keep", reason: "apps still run" };
  return { action: "log off after grace" };
}

/**
 * The streamer of `slot` reported the app `command` closed: it may be
 * launched again, and an app session with no app left is logged off after
 * `appExitGrace` seconds (through the same recycle as every log off, which
 * tells the gateway). A command the pool did not launch is ignored.
 */
export function appClosed(
  table: SlotTable,
  slot: Slot,
  options: { phase: BoundSlot; command: string },
): void {
  const { phase, command } = options;
  const where = {
    slot: slot.number,
    sessionId: phase.sessionId,
    sessionUuid: phase.sessionUuid,
  };
  if (!phase.launched.delete(command)) {
    table.logger.warn("a closed app the host did not launch ignored", where);
    return;
  }
  table.persist(slot);
  const decision = afterAppClosed(phase);
  table.logger.info("app closed", {
    ...where,
    appsLeft: phase.launched.size,
    ...(decision.action === "keep" ? { kept: decision.reason } : {}),
  });
  if (decision.action !== "log off after grace") return;
  clearTimeout(phase.appExitTimer);
  const seconds = table.config.webstreamSettings.appExitGrace;
  phase.appExitTimer = setTimeout(() => {
    phase.appExitTimer = undefined;
    if (slot.phase !== phase) return;
    if (afterAppClosed(phase).action === "log off after grace") {
      table.recycle(slot, LAST_APP_CLOSED);
    }
  }, seconds * 1000);
}

/**
 * An app was launched into the bound session: a pending log off for its
 * last app is cancelled.
 */
export function appLaunched(phase: BoundSlot): void {
  clearTimeout(phase.appExitTimer);
  phase.appExitTimer = undefined;
}
