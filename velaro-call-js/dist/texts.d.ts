import type { Device, MediaError, Reason, Role } from "./generated/wire.js";
/** The local browser, for permission help (`velaro_call_state::Browser`). */
export type Browser = "chrome" | "edge" | "firefox" | "safari" | "other";
/** The browser a User-Agent names, as far as permission help cares: Edge and Chrome on iOS put
 *  their own settings first, so their tokens win over Safari's. */
export declare function browserFromUserAgent(userAgent: string): Browser;
/** Whether a media error is a refusal (the user or the page's settings said no), rather than a
 *  device that is missing, busy or failed. */
export declare const isRefusal: (error: MediaError) => boolean;
/** Step-by-step help to allow `device` again in `browser`. */
export declare function permissionHelp(browser: Browser, device: Device): string;
/** What to tell the user whose request for `device` failed with `error`: how to allow a refused
 *  one (or a screen share), otherwise what the failure means for the call. */
export declare function mediaHelp(browser: Browser, device: Device, error: MediaError): string;
/**
 * The host's translation hook: called with a key and its parameters for every text the package
 * gives a person; return the words to show, or undefined to keep the package's (English) ones.
 * Keys: `reason.<code>` ({who, device, error, role}), `status.<phase>` ({role}),
 * `media.<device>.<error>` ({browser}), `camera.peer_unavailable` ({peer}), `quality.poor`,
 * `audio_only.quality`, `prompt.answered_elsewhere`.
 */
export type Texts = (key: string, params: Record<string, string>) => string | undefined;
/** Who ended a call, from the reader's side. */
export type EndedBy = "you" | "peer" | null;
/** Why a call ended, in plain words for the person on `role`'s side. */
export declare function reasonText(reason: Reason, role: Role, endedBy: EndedBy): string;
/** What a call's status line says in each phase (empty: nothing to show). */
export declare function statusText(phase: string): string;
/** The other side has no working camera. */
export declare const peerCameraUnavailableText: (peer: Role) => string;
/** Advice to the agent on a poor connection. */
export declare const QUALITY_POOR_TEXT = "The connection is poor. Switching to audio only may help.";
/** The call is audio only for a better connection. */
export declare const AUDIO_ONLY_TEXT = "Audio only: video is off for a better connection.";
/** Applies the host's hook to one text. */
export declare function translate(texts: Texts | undefined, key: string, params: Record<string, string>, text: string): string;
