/** The browser a User-Agent names, as far as permission help cares: Edge and Chrome on iOS put
 *  their own settings first, so their tokens win over Safari's. */
export function browserFromUserAgent(userAgent) {
    const has = (token) => userAgent.includes(token);
    if (has("Edg/") || has("EdgA/") || has("EdgiOS/"))
        return "edge";
    if (has("Firefox/") || has("FxiOS/"))
        return "firefox";
    if (has("Chrome/") || has("Chromium/") || has("CriOS/"))
        return "chrome";
    if (has("Safari/"))
        return "safari";
    return "other";
}
/** Whether a media error is a refusal (the user or the page's settings said no), rather than a
 *  device that is missing, busy or failed. */
export const isRefusal = (error) => error === "NotAllowedError" || error === "SecurityError";
/** Step-by-step help to allow `device` again in `browser`. */
export function permissionHelp(browser, device) {
    if (device === "screen") {
        return browser === "chrome" || browser === "edge"
            ? "Screen sharing was cancelled or blocked. Try again and pick a screen, window or tab; on macOS, allow the browser under System Settings › Privacy & Security › Screen Recording."
            : "Screen sharing was cancelled or blocked. Try again and choose what to share; on macOS, allow the browser under System Settings › Privacy & Security › Screen Recording.";
    }
    switch (browser) {
        case "chrome":
            return "Click the lock icon left of the address bar, open Camera and Microphone, choose Allow, then reload the page.";
        case "edge":
            return "Click the lock icon in the address bar, open Permissions for this site, set Camera and Microphone to Allow, then reload the page.";
        case "firefox":
            return "Click the camera icon in the address bar, remove the Blocked setting for Camera and Microphone, then reload the page and allow access when asked.";
        case "safari":
            return "Open Safari › Settings for This Website, set Camera and Microphone to Allow, then reload the page.";
        default:
            return "Allow camera and microphone access for this site in your browser's site settings, then reload the page.";
    }
}
/** What to tell the user whose request for `device` failed with `error`: how to allow a refused
 *  one (or a screen share), otherwise what the failure means for the call. */
export function mediaHelp(browser, device, error) {
    if (isRefusal(error) || device === "screen")
        return permissionHelp(browser, device);
    if (device === "camera") {
        switch (error) {
            case "NotFoundError":
                return "No camera was found, so the call continues with audio only. Connect a camera and turn it on to add video.";
            case "NotReadableError":
                return "Your camera is in use by another application, so the call continues with audio only. Close that application and turn the camera on to add video.";
            case "OverconstrainedError":
                return "Your camera does not support the video settings of this call, so the call continues with audio only.";
        }
    }
    if (device === "microphone") {
        switch (error) {
            case "NotFoundError":
                return "No microphone was found. Connect a microphone and try again.";
            case "NotReadableError":
                return "Your microphone is in use by another application. Close that application and try again.";
            case "OverconstrainedError":
                return "Your microphone does not support the audio settings of this call.";
            default:
                return "Your microphone could not be started. Try again.";
        }
    }
    return "Your camera could not be started, so the call continues with audio only.";
}
const other = (role) => (role === "agent" ? "visitor" : "agent");
/** Why a call ended, in plain words for the person on `role`'s side. */
export function reasonText(reason, role, endedBy) {
    const peer = other(role);
    switch (reason.code) {
        case "user_hangup":
            return endedBy === "you" ? "You ended the call." : endedBy === "peer" ? `The ${peer} ended the call.` : "The call ended.";
        case "declined":
            return role === "agent" ? "The visitor declined the call." : "You declined the call.";
        case "cancelled":
            return role === "agent" ? "You cancelled the call." : "The agent cancelled the call.";
        case "busy":
            return "The visitor is already in a call.";
        case "invite_timeout":
            return role === "agent" ? "Nobody answered the call in time." : "The call request expired.";
        case "answered_elsewhere":
            return "The call was answered in another tab or window.";
        case "replaced":
            return "Another call request replaced this one.";
        case "ice_failed":
            return "The call could not connect. Check your network connection and try again.";
        case "ice_timeout":
            return "The connection was lost and could not be restored.";
        case "signaling_lost":
            return `The connection to the ${peer} was lost.`;
        case "media_permission_denied": {
            const device = reason.device === "microphone" ? "microphone" : reason.device === "screen" ? "screen sharing" : "camera";
            const whose = endedBy === "you" ? "your" : `the ${peer}'s`;
            const error = reason.error ?? "";
            const what = isRefusal(error) ? "is blocked" : error === "NotFoundError" ? "was not found" : error === "NotReadableError" ? "is in use by another application" : "could not be started";
            return `The call could not start: ${whose} ${device} ${what}.`;
        }
        case "feature_disabled":
            return "Video calls are not available for this conversation.";
        case "party_left":
            return `The ${peer} left the conversation.`;
        case "unsupported_version":
            return `The ${peer}'s app cannot take part in this call. Updating it may help.`;
        case "protocol_error":
        case "unknown_error":
            return "Something went wrong with the call. Please try again.";
        default:
            return "The call ended.";
    }
}
/** What a call's status line says in each phase (empty: nothing to show). */
export function statusText(phase) {
    switch (phase) {
        case "inviting":
            return "Starting your camera…";
        case "ringing":
            return "Calling the visitor…";
        case "awaiting_permission":
            return "Waiting for access to your camera and microphone…";
        case "connecting":
            return "Connecting…";
        case "active":
            return "Connected";
        case "reconnecting":
            return "Reconnecting…";
        default:
            return "";
    }
}
/** The other side has no working camera. */
export const peerCameraUnavailableText = (peer) => `The ${peer}'s camera is unavailable; the call continues with audio.`;
/** Advice to the agent on a poor connection. */
export const QUALITY_POOR_TEXT = "The connection is poor. Switching to audio only may help.";
/** The call is audio only for a better connection. */
export const AUDIO_ONLY_TEXT = "Audio only: video is off for a better connection.";
/** Applies the host's hook to one text. */
export function translate(texts, key, params, text) {
    return texts?.(key, params) ?? text;
}
