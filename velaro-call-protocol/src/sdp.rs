//! The checks a `call.description` must pass before its SDP reaches a peer connection, and a
//! small summary of it for the call state machine.

use sdp_types::Session;

use crate::limits::{MAX_M_SECTIONS, MAX_SDP_LEN};
use crate::message::description::{SdpType, SessionDescription};
use crate::value::open_enum;

/// Why an SDP was refused. Fatal to the negotiation it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Larger than [`MAX_SDP_LEN`].
    #[error("sdp is {len} bytes, more than {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_M_SECTIONS`] m-sections.
    #[error("sdp has {count} m-sections, more than {max}")]
    TooManyMSections {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The SDP grammar is broken.
    #[error("sdp does not parse: {0}")]
    Parse(String),
    /// No audio or video m-section: nothing for a call.
    #[error("sdp has no audio or video m-section")]
    NoAudioOrVideo,
    /// An m-section has no `a=ice-ufrag`, neither its own nor at session level.
    #[error("m-section {index} has no ice-ufrag")]
    MissingIceUfrag {
        /// The m-section's index.
        index: usize,
    },
    /// An `a=ice-ufrag` outside 4 to 256 ice-chars.
    #[error("m-section {index} has an invalid ice-ufrag (4 to 256 of [A-Za-z0-9+/])")]
    InvalidIceUfrag {
        /// The m-section's index.
        index: usize,
    },
    /// An m-section has no `a=ice-pwd`.
    #[error("m-section {index} has no ice-pwd")]
    MissingIcePwd {
        /// The m-section's index.
        index: usize,
    },
    /// An `a=ice-pwd` outside 22 to 256 ice-chars.
    #[error("m-section {index} has an invalid ice-pwd (22 to 256 of [A-Za-z0-9+/])")]
    InvalidIcePwd {
        /// The m-section's index.
        index: usize,
    },
    /// An m-section has no DTLS `a=fingerprint`, neither its own nor at session level.
    #[error("m-section {index} has no dtls fingerprint")]
    MissingFingerprint {
        /// The m-section's index.
        index: usize,
    },
    /// `a=group:BUNDLE` names a mid no m-section has.
    #[error("bundle group names mid `{mid}`, which no m-section has")]
    UnknownBundleMid {
        /// The mid.
        mid: String,
    },
    /// An answer whose m-section count differs from its offer's.
    #[error("answer has {answer} m-sections, its offer {offer}")]
    MSectionCountMismatch {
        /// The offer's count.
        offer: usize,
        /// The answer's count.
        answer: usize,
    },
}

open_enum! {
    /// The media type of an m-section.
    MediaKind, "media kind" {
        /// Audio.
        Audio = "audio",
        /// Video.
        Video = "video",
        /// A data channel.
        Application = "application",
    }
}

/// The direction of an m-section, from the sender's point of view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sends and receives (the default).
    #[default]
    SendRecv,
    /// Only sends.
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Whether the sender of the SDP sends media on this m-section.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the sender of the SDP receives media on this m-section.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One m-section, summarized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// Audio, video, application, …
    pub kind: MediaKind,
    /// The direction.
    pub direction: Direction,
    /// The `a=mid`, if any.
    pub mid: Option<String>,
    /// Port 0: the m-section is rejected or stopped.
    pub rejected: bool,
}

/// What the call state machine needs to know about an SDP, without parsing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpSummary {
    /// Offer or answer.
    pub sdp_type: SdpType,
    /// The m-sections in order.
    pub media: Vec<MediaSection>,
    /// The ICE username fragment of the first m-section: it changes on an ICE restart, and
    /// candidates of an older one belong to an old generation.
    pub ice_ufrag: String,
    /// How many `a=candidate` lines the SDP carries (0 with pure trickle ICE).
    pub candidate_count: usize,
    /// The mids of the BUNDLE group, if any.
    pub bundle: Vec<String>,
}

impl SdpSummary {
    fn empty(sdp_type: SdpType) -> SdpSummary {
        SdpSummary {
            sdp_type,
            media: Vec::new(),
            ice_ufrag: String::new(),
            candidate_count: 0,
            bundle: Vec::new(),
        }
    }

    /// Takes in one `m=` line of the SDP being summarized.
    fn note_section(&mut self, kind: &str, rejected: bool, direction: Direction) {
        self.media.push(MediaSection {
            kind: MediaKind::parse(kind).unwrap_or_else(|_| MediaKind::Other(kind.to_owned())),
            direction,
            mid: None,
            rejected,
        });
    }

    /// Takes in one `a=` line of the SDP being summarized.
    fn note_attribute(&mut self, session_direction: &mut Direction, name: &str, value: &str) {
        let direction = match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        };
        match (name, self.media.last_mut(), direction) {
            (_, None, Some(direction)) => *session_direction = direction,
            (_, Some(section), Some(direction)) => section.direction = direction,
            ("mid", Some(section), _) if section.mid.is_none() => {
                section.mid = Some(value.to_owned());
            }
            ("ice-ufrag", _, _) if self.ice_ufrag.is_empty() => {
                value.clone_into(&mut self.ice_ufrag);
            }
            ("candidate", _, _) => self.candidate_count += 1,
            ("group", None, _) => {
                if let Some(mids) = value.strip_prefix("BUNDLE") {
                    self.bundle.extend(mids.split_ascii_whitespace().map(str::to_owned));
                }
            }
            _ => {}
        }
    }

    /// Whether any m-section of `kind` is not rejected and sends media.
    pub fn sends(&self, kind: &MediaKind) -> bool {
        self.media.iter().any(|m| &m.kind == kind && !m.rejected && m.direction.sends())
    }

    /// Checks that this answer fits `offer`: same number of m-sections (JSEP §5.3.1).
    pub fn check_answers(&self, offer: &SdpSummary) -> Result<(), SdpError> {
        if self.media.len() == offer.media.len() {
            Ok(())
        } else {
            Err(SdpError::MSectionCountMismatch {
                offer: offer.media.len(),
                answer: self.media.len(),
            })
        }
    }
}

/// Counts `m=` lines without parsing: the cheap limit check of the codec. A SIMD substring
/// search is about ten times faster than `str::matches` on a browser's offer.
pub(crate) fn count_m_sections(sdp: &str) -> usize {
    usize::from(sdp.starts_with("m=")) + memchr::memmem::find_iter(sdp.as_bytes(), b"\nm=").count()
}

/// Checks an offer or answer and summarizes it.
///
/// The SDP must parse (CRLF or LF line endings), have at least one audio or video m-section,
/// and give every m-section an ICE ufrag (4 to 256 chars), password (22 to 256) and DTLS
/// fingerprint, at media or session level; a BUNDLE group may only name existing mids.
pub fn check(description: &SessionDescription) -> Result<SdpSummary, SdpError> {
    let sdp = &description.sdp;
    if sdp.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge { len: sdp.len(), max: MAX_SDP_LEN });
    }
    let count = count_m_sections(sdp);
    if count > MAX_M_SECTIONS {
        return Err(SdpError::TooManyMSections { count, max: MAX_M_SECTIONS });
    }
    let session = Session::parse(sdp.as_bytes()).map_err(|e| SdpError::Parse(e.to_string()))?;
    let session_attr = |name| session.get_first_attribute_value(name).flatten();
    for (index, section) in session.medias.iter().enumerate() {
        let attr =
            |name| section.get_first_attribute_value(name).flatten().or_else(|| session_attr(name));
        let ufrag = attr("ice-ufrag").ok_or(SdpError::MissingIceUfrag { index })?;
        if !is_ice_chars(ufrag, 4) {
            return Err(SdpError::InvalidIceUfrag { index });
        }
        let pwd = attr("ice-pwd").ok_or(SdpError::MissingIcePwd { index })?;
        if !is_ice_chars(pwd, 22) {
            return Err(SdpError::InvalidIcePwd { index });
        }
        if attr("fingerprint").is_none() {
            return Err(SdpError::MissingFingerprint { index });
        }
    }
    // The summary from the parse just made, through the same steps as `summarize`'s line scan.
    let mut summary = SdpSummary::empty(description.sdp_type);
    let mut session_direction = Direction::SendRecv;
    for attribute in &session.attributes {
        let value = attribute.value.as_deref().unwrap_or_default();
        summary.note_attribute(&mut session_direction, &attribute.attribute, value);
    }
    for section in &session.medias {
        summary.note_section(&section.media, section.port == 0, session_direction);
        for attribute in &section.attributes {
            let value = attribute.value.as_deref().unwrap_or_default();
            summary.note_attribute(&mut session_direction, &attribute.attribute, value);
        }
    }
    if !summary.media.iter().any(|m| matches!(m.kind, MediaKind::Audio | MediaKind::Video)) {
        return Err(SdpError::NoAudioOrVideo);
    }
    if let Some(mid) = summary
        .bundle
        .iter()
        .find(|mid| !summary.media.iter().any(|m| m.mid.as_deref() == Some(mid.as_str())))
    {
        return Err(SdpError::UnknownBundleMid { mid: mid.clone() });
    }
    Ok(summary)
}

/// Summarizes an SDP in one pass over its lines, without checking it: for an SDP that already
/// passed [`check`], or that the local media layer produced (the browser's own offer needs no
/// second opinion, and a full parse costs about as much as the rest of a call's signaling).
pub fn summarize(description: &SessionDescription) -> SdpSummary {
    let mut summary = SdpSummary::empty(description.sdp_type);
    let mut session_direction = Direction::SendRecv;
    let sdp = description.sdp.as_str();
    let ends = memchr::memchr_iter(b'\n', sdp.as_bytes()).chain(std::iter::once(sdp.len()));
    let mut start = 0;
    for end in ends {
        let line = sdp.get(start..end).unwrap_or_default();
        start = end + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.as_bytes() {
            [b'm', b'=', ..] => {
                let mut fields = line.get(2..).unwrap_or_default().split(' ');
                let kind = fields.next().unwrap_or_default();
                let rejected = fields.next().is_some_and(is_port_zero);
                summary.note_section(kind, rejected, session_direction);
            }
            // Only these first letters start an attribute the summary reads: most lines
            // (rtpmap, fmtp, rtcp-fb, extmap, ssrc, …) are skipped after two byte compares.
            [b'a', b'=', b's' | b'r' | b'i' | b'm' | b'c' | b'g', ..] => {
                let attribute = line.get(2..).unwrap_or_default();
                let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
                summary.note_attribute(&mut session_direction, name, value);
            }
            _ => {}
        }
    }
    summary
}

/// Whether the port field of an `m=` line (`<port>[/<count>]`) is port 0, read as `sdp-types`
/// reads it for [`check`]: the text before the first `/` through `u16::from_str`, which takes
/// leading zeros and a leading `+`. So `00`, `+0` and `0/2` are port 0 for both.
fn is_port_zero(field: &str) -> bool {
    let port = field.split_once('/').map_or(field, |(port, _)| port);
    port.parse::<u16>() == Ok(0)
}

/// `min..=256` ice-chars.
fn is_ice_chars(text: &str, min: usize) -> bool {
    (min..=256).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
