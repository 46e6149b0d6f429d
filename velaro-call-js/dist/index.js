// @velaro/call: the Velaro call protocol v1 for browsers.
export { CallClient, mediaErrorName } from "./client.js";
export { CallMachine } from "./machine.js";
export { EndedCalls } from "./ended-calls.js";
export { formatResumeCursor, parseResumeCursor } from "./resume.js";
export { AUDIO_ONLY_TEXT, QUALITY_POOR_TEXT, browserFromUserAgent, isRefusal, mediaHelp, peerCameraUnavailableText, permissionHelp, reasonText, statusText, } from "./texts.js";
export { MESSAGE_TYPES, TIMINGS_MS, VERSION } from "./generated/wire.js";
