// @velaro/call: the Velaro call protocol v1 for browsers.
export { CallClient, mediaErrorName } from "./client.js";
export type { CallClientEvents, CallClientOptions, Clock, InviteOptions } from "./client.js";
export { CallMachine } from "./machine.js";
export type {
  Action,
  CallConfig,
  CallError,
  CallEvent,
  CallSummary,
  IceState,
  MediaCommand,
  MediaEvent,
  Outcome,
  Output,
  Phase,
  PromptEnd,
  QualityAdvice,
  Timings,
} from "./machine.js";
export { EndedCalls } from "./ended-calls.js";
export { formatResumeCursor, parseResumeCursor } from "./resume.js";
export {
  AUDIO_ONLY_TEXT,
  QUALITY_POOR_TEXT,
  browserFromUserAgent,
  isRefusal,
  mediaHelp,
  peerCameraUnavailableText,
  permissionHelp,
  reasonText,
  statusText,
} from "./texts.js";
export type { Browser, EndedBy, Texts } from "./texts.js";
// The wire types; the known values of every open enum are in "@velaro/call/wire", so that a page
// that needs none of them does not load them.
export type * from "./wire.js";
export { MESSAGE_TYPES, TIMINGS_MS, VERSION } from "./generated/wire.js";
