// The checks a remote description must pass before it reaches the peer connection, and the
// summary the call machine reads (the twin of `velaro_call_protocol::sdp`). A line scan: the
// browser parses the SDP itself; these checks only refuse what the crate refuses.
import { MAX_M_SECTIONS, MAX_SDP_LEN } from "./generated/wire.js";

/** One m-section. */
export interface MediaSection {
  kind: string;
  mid: string | null;
  rejected: boolean;
}

/** What the call machine needs of an SDP. */
export interface SdpSummary {
  media: MediaSection[];
  /** The first ICE ufrag: it changes with each ICE generation. */
  iceUfrag: string;
  bundle: string[];
}

/** The summary, and the attributes of each section (index 0: the session level, first value of
 *  each name), in one pass over the lines. */
function scan(sdp: string): [SdpSummary, Map<string, string>[], boolean] {
  const summary: SdpSummary = { media: [], iceUfrag: "", bundle: [] };
  const sections: Map<string, string>[] = [new Map()];
  let wellFormed = true;
  for (const raw of sdp.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    if (!/^[a-z]=/.test(line)) wellFormed = false;
    if (line.startsWith("m=")) {
      const [kind = "", port = ""] = line.slice(2).split(" ");
      summary.media.push({ kind, mid: null, rejected: /^\+?0+(\/|$)/.test(port) });
      sections.push(new Map());
    } else if (line.startsWith("a=")) {
      const [name = "", ...rest] = line.slice(2).split(":");
      const value = rest.join(":");
      const attributes = sections[sections.length - 1]!;
      if (!attributes.has(name)) attributes.set(name, value);
      const section = summary.media[summary.media.length - 1];
      if (name === "mid" && section && section.mid === null) section.mid = value;
      else if (name === "ice-ufrag" && summary.iceUfrag === "") summary.iceUfrag = value;
      else if (name === "group" && !section && value.startsWith("BUNDLE")) summary.bundle.push(...value.slice(6).split(/\s+/).filter(Boolean));
    }
  }
  return [summary, sections, wellFormed];
}

/** Summarizes without checking: for our own browser's descriptions. */
export const summarize = (sdp: string): SdpSummary => scan(sdp)[0];

const iceChars = (text: string | undefined, min: number) =>
  text !== undefined && text.length >= min && text.length <= 256 && /^[A-Za-z0-9+/]+$/.test(text);

/** Checks a peer's offer or answer: null when it is refused (the call fails `protocol_error`). */
export function check(sdp: string): SdpSummary | null {
  if (new TextEncoder().encode(sdp).length > MAX_SDP_LEN) return null;
  const [summary, [session, ...media], wellFormed] = scan(sdp);
  if (!wellFormed || media.length > MAX_M_SECTIONS) return null;
  for (const section of media) {
    const attr = (name: string) => section.get(name) ?? session!.get(name);
    if (!iceChars(attr("ice-ufrag"), 4) || !iceChars(attr("ice-pwd"), 22) || attr("fingerprint") === undefined) return null;
  }
  if (!summary.media.some((m) => m.kind === "audio" || m.kind === "video")) return null;
  if (summary.bundle.some((mid) => !summary.media.some((m) => m.mid === mid))) return null;
  return summary;
}

/** Whether an answer fits its offer: as many m-sections (JSEP §5.3.1). */
export function answers(answer: SdpSummary, offer: SdpSummary): boolean {
  return answer.media.length === offer.media.length;
}
