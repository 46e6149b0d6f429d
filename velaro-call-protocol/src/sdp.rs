//! The checks a `call.description` must pass before its SDP reaches a peer connection, and a
//! small summary of it for the call state machine.
//!
//! # The line grammar
//!
//! [`check`] reads the SDP once, line by line, without allocating for the check, and takes only
//! what RFC 8866 (§5 and §9) allows:
//!
//! - `<type>=<value>` lines, each ending in CRLF or LF (the last one too), with no empty line and
//!   no NUL or CR inside a line; the value is not empty;
//! - `v=0` first, then `o=` with 6 fields (`<sess-version>` a number, `<nettype>` and
//!   `<addrtype>` tokens), then `s=`;
//! - at session level the other types in the RFC's order, `i u e p c b t r z k a`, with at least
//!   one `t=` (two numbers); `i u c z k` at most once, `r=` only after a `t=`;
//! - then m-sections: `m=<media> <port>[/<count>] <proto> <fmt> …` (tokens, `<proto>` tokens
//!   joined by `/`, port and count numbers below 65536), followed by `i c b k a` in that order,
//!   `i` and `k` at most once;
//! - `a=<name>[:<value>]` with a token name, `b=<bwtype>:<bandwidth>`, `c=` with 3 fields,
//!   `k=<method>[:<key>]`, and `r=` and `z=` with their typed times;
//! - no type letter but these: RFC 8866 §5 has a parser ignore a description with one it does
//!   not know.
//!
//! A failure is [`SdpError::Parse`], naming the line and what was wrong with it. Everything the
//! check takes, `sdp_types::Session::parse` (what `check` parsed with before) takes too; it is
//! stricter where sdp-types is lax (line order, unknown or missing types, empty lines, an
//! unterminated last line, tokens), which a differential test over mutated browser SDPs shows.

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

/// Counts `m=` lines without parsing, for [`SdpError::TooManyMSections`]: a SIMD substring
/// search is about ten times faster than `str::matches` on a browser's offer.
pub(crate) fn count_m_sections(sdp: &str) -> usize {
    usize::from(sdp.starts_with("m=")) + memchr::memmem::find_iter(sdp.as_bytes(), b"\nm=").count()
}

/// Checks an offer or answer and summarizes it.
///
/// The SDP must follow the line grammar of RFC 8866 (§5 and §9; see the [module docs](self)),
/// have at least one audio or video m-section, and give every m-section an ICE ufrag (4 to 256
/// chars), password (22 to 256) and DTLS fingerprint, at media or session level; a BUNDLE group
/// may only name existing mids. One pass over the lines, without allocating for the check (the
/// summary it returns allocates as [`summarize`]'s does).
pub fn check(description: &SessionDescription) -> Result<SdpSummary, SdpError> {
    let sdp = &description.sdp;
    if sdp.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge { len: sdp.len(), max: MAX_SDP_LEN });
    }
    // A stray byte (NUL, or CR but before LF) is named rather than what it broke on its line.
    let (summary, ice_error) = read(description).map_err(|error| match error {
        SdpError::Parse(_) => stray_byte(sdp).unwrap_or(error),
        error => error,
    })?;
    if let Some(error) = ice_error {
        return Err(error);
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

/// The grammar check of [`check`], in one pass over the lines: the summary, and the first
/// failed ICE check, which counts only once the whole SDP has passed the grammar.
fn read(description: &SessionDescription) -> Result<(SdpSummary, Option<SdpError>), SdpError> {
    let sdp = description.sdp.as_str();
    let Some(body) = sdp.strip_suffix('\n') else {
        let number = 1 + memchr::memchr_iter(b'\n', sdp.as_bytes()).count();
        return Err(SdpError::Parse(format!("line {number}: no CRLF or LF at the end")));
    };
    let mut summary = SdpSummary::empty(description.sdp_type);
    let mut session_direction = Direction::SendRecv;
    let mut place = Place::Start;
    let mut session_ice = IceSeen::default();
    let mut section_ice = IceSeen::default();
    let mut ice_error = None;
    let mut number = 0;
    let mut crlf = 0;
    for line in lines(body) {
        number += 1;
        let line = line.strip_suffix('\r').inspect(|_| crlf += 1).unwrap_or(line);
        let at = |what: &str| SdpError::Parse(format!("line {number}: {what}"));
        let (&kind, value) = match line.as_bytes() {
            [] => return Err(at("empty line")),
            [kind, b'=', ..] => (kind, line.get(2..).unwrap_or_default()),
            _ => return Err(at("not a `<type>=<value>` line")),
        };
        let at = |what: &str| at(&format!("`{}=` {what}", kind.escape_ascii()));
        place = place.next(kind).map_err(at)?;
        if value.is_empty() {
            return Err(at("has an empty value"));
        }
        match kind {
            b'm' => {
                // Counted as read (the work is bounded by the size limit anyway), all of them
                // only for the error.
                if summary.media.len() == MAX_M_SECTIONS {
                    let count = count_m_sections(sdp);
                    return Err(SdpError::TooManyMSections { count, max: MAX_M_SECTIONS });
                }
                let (media, port) = media_line(value).map_err(at)?;
                if let Some(index) = summary.media.len().checked_sub(1) {
                    ice_error = ice_error.or(section_ice.check(&session_ice, index).err());
                }
                section_ice = IceSeen::default();
                summary.note_section(media, is_port_zero(port), session_direction);
            }
            b'a' => {
                let (name, value) = attribute(value).map_err(at)?;
                if summary.media.is_empty() { &mut session_ice } else { &mut section_ice }
                    .note(name, value);
                if summary_may_read(name.as_bytes()) {
                    summary.note_attribute(&mut session_direction, name, value.unwrap_or_default());
                }
            }
            _ => field_line(kind, value).map_err(at)?,
        }
    }
    if place < Place::Time {
        return Err(SdpError::Parse(format!(
            "line {number}: the SDP ends before its `o=`, `s=` and `t=` lines"
        )));
    }
    // Every CR ends a line before its LF, and there is no NUL: two SIMD passes over the bytes
    // (`stray_byte` finds where, when not).
    let bytes = sdp.as_bytes();
    if memchr::memchr(b'\0', bytes).is_some() || memchr::memchr_iter(b'\r', bytes).count() != crlf {
        return Err(SdpError::Parse("a NUL or CR inside a line".to_owned()));
    }
    if let Some(index) = summary.media.len().checked_sub(1) {
        ice_error = ice_error.or(section_ice.check(&session_ice, index).err());
    }
    Ok((summary, ice_error))
}

/// Splits the value of an `a=` line into its name, a token, and its value, if it has a `:`.
fn attribute(value: &str) -> Result<(&str, Option<&str>), &'static str> {
    let end = value.bytes().position(|b| !is_token_byte(b)).unwrap_or(value.len());
    match value.split_at_checked(end) {
        Some((name, "")) if !name.is_empty() => Ok((name, None)),
        Some((name, rest)) if !name.is_empty() => match rest.strip_prefix(':') {
            Some(value) => Ok((name, Some(value))),
            None => Err("has an attribute name that is not a token"),
        },
        _ => Err("has an attribute name that is not a token"),
    }
}

/// Where the grammar check is, after the lines it has read: the RFC 8866 §5 order of line
/// types, at session level and then in an m-section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Start,
    Version,
    Origin,
    Name,
    Information,
    Uri,
    Email,
    Phone,
    Connection,
    Bandwidth,
    /// After a `t=` or `r=`.
    Time,
    Zone,
    Key,
    Attribute,
    Media,
    MediaInformation,
    MediaConnection,
    MediaBandwidth,
    MediaKey,
    MediaAttribute,
}

impl Place {
    /// Where a line of type `kind` takes the check, if that line may come here: `i u k` and
    /// `o s c z` at session level at most once, `e p b t r a` and media-level `c b a` any number
    /// of times, `r` only after a `t`, and `m` only after at least one `t`.
    fn next(self, kind: u8) -> Result<Place, &'static str> {
        use Place::{
            Attribute, Bandwidth, Connection, Email, Information, Key, Media, MediaAttribute,
            MediaBandwidth, MediaConnection, MediaInformation, MediaKey, Name, Origin, Phone,
            Start, Time, Uri, Version, Zone,
        };
        let within = |from: Place, to: Place| (from..=to).contains(&self);
        let next = match kind {
            b'v' if self == Start => Version,
            _ if self == Start => return Err("is not `v=0`, the first line"),
            b'o' if self == Version => Origin,
            _ if self == Version => return Err("comes where `o=` should, after `v=0`"),
            b's' if self == Origin => Name,
            _ if self == Origin => return Err("comes where `s=` should, after `o=`"),
            b'i' if self == Name => Information,
            b'i' if self == Media => MediaInformation,
            b'u' if within(Name, Information) => Uri,
            b'e' if within(Name, Email) => Email,
            b'p' if within(Name, Phone) => Phone,
            b'c' if within(Name, Phone) => Connection,
            b'c' if within(Media, MediaConnection) => MediaConnection,
            b'b' if within(Name, Bandwidth) => Bandwidth,
            b'b' if within(Media, MediaBandwidth) => MediaBandwidth,
            b't' if within(Name, Time) => Time,
            b'r' if self == Time => Time,
            b'z' if self == Time => Zone,
            b'k' if within(Time, Zone) => Key,
            b'k' if within(Media, MediaBandwidth) => MediaKey,
            b'a' if within(Time, Attribute) => Attribute,
            b'a' if within(Media, MediaAttribute) => MediaAttribute,
            b'm' if self >= Time => Media,
            b'm' => return Err("comes before any `t=` line"),
            b'v' | b'o' | b's' | b'i' | b'u' | b'e' | b'p' | b'c' | b'b' | b't' | b'r' | b'z'
            | b'k' | b'a' => {
                return Err("is repeated or out of the RFC 8866 order (v o s i u e p c b t r \
                            z k a, then per m-section m i c b k a)");
            }
            _ => return Err("is an unknown line type"),
        };
        Ok(next)
    }
}

/// The first NUL or CR not before an LF, as the error that names its line: RFC 8866 §9 has
/// neither inside a line.
fn stray_byte(sdp: &str) -> Option<SdpError> {
    let bytes = sdp.as_bytes();
    let at = memchr::memchr2_iter(b'\0', b'\r', bytes)
        .find(|&at| bytes.get(at) == Some(&b'\0') || bytes.get(at + 1) != Some(&b'\n'))?;
    let number = 1 + memchr::memchr_iter(b'\n', bytes.get(..at).unwrap_or_default()).count();
    let what = if bytes.get(at) == Some(&b'\0') { "NUL" } else { "CR" };
    Some(SdpError::Parse(format!("line {number}: {what} inside the line")))
}

/// The lines of `sdp`, split at LF (a CR before it stays). Shared by [`check`] (on the SDP
/// without its last LF) and [`summarize`].
fn lines(sdp: &str) -> impl Iterator<Item = &str> {
    let ends = memchr::memchr_iter(b'\n', sdp.as_bytes()).chain(std::iter::once(sdp.len()));
    let mut start = 0;
    ends.map(move |end| {
        let line = sdp.get(start..end).unwrap_or_default();
        start = end + 1;
        line
    })
}

/// Checks the value of an `m=` line, `<media> <port>[/<count>] <proto> <fmt> …`, and returns
/// its media and port fields. The port and count are read as `u16::from_str` reads them (as
/// [`is_port_zero`] does).
fn media_line(value: &str) -> Result<(&str, &str), &'static str> {
    let mut fields = value.splitn(4, ' ');
    let media =
        fields.next().filter(|media| is_token(media)).ok_or("has a media that is not a token")?;
    let port = fields.next().ok_or("has no port")?;
    let (number, count) = port.split_once('/').map_or((port, None), |(n, c)| (n, Some(c)));
    if number.parse::<u16>().is_err() || count.is_some_and(|c| c.parse::<u16>().is_err()) {
        return Err("has a port that is not `<port>[/<count>]`");
    }
    let proto = fields.next().ok_or("has no proto")?;
    if !is_token_list(proto, b'/') {
        return Err("has a proto that is not tokens separated by `/`");
    }
    let formats = fields.next().ok_or("has no fmt")?;
    if !is_token_list(formats, b' ') {
        return Err("has fmts that are not tokens separated by single spaces");
    }
    Ok((media, port))
}

/// Checks the value of a line other than `m=` and `a=`, as RFC 8866 §9 has it (fields separated
/// by runs of spaces, which `sdp-types` also takes).
fn field_line(kind: u8, value: &str) -> Result<(), &'static str> {
    let mut fields = value.split(' ').filter(|field| !field.is_empty());
    let is_u64 = |field: Option<&str>| field.is_some_and(|f| f.parse::<u64>().is_ok());
    let fine = match kind {
        b'v' => value == "0",
        // <username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
        b'o' => {
            fields.next().is_some()
                && fields.next().is_some()
                && is_u64(fields.next())
                && fields.next().is_some_and(is_token)
                && fields.next().is_some_and(is_token)
                && fields.next().is_some()
                && fields.next().is_none()
        }
        // <nettype> <addrtype> <connection-address>
        b'c' => {
            fields.next().is_some_and(is_token)
                && fields.next().is_some_and(is_token)
                && fields.next().is_some()
                && fields.next().is_none()
        }
        // <bwtype>:<bandwidth>
        b'b' => value
            .split_once(':')
            .is_some_and(|(bwtype, bandwidth)| is_token(bwtype) && is_u64(Some(bandwidth))),
        // <start-time> <stop-time>
        b't' => is_u64(fields.next()) && is_u64(fields.next()) && fields.next().is_none(),
        // <repeat interval> <active duration> <offsets from start-time>…
        b'r' => {
            typed_time(fields.next()).is_some()
                && typed_time(fields.next()).is_some()
                && fields.all(|field| typed_time(Some(field)).is_some())
        }
        // <adjustment time> <offset> …, at least one pair
        b'z' => {
            let mut pairs = 0;
            loop {
                match fields.next() {
                    None => break pairs > 0,
                    adjustment if is_u64(adjustment) && zone_offset(fields.next()) => pairs += 1,
                    Some(_) => break false,
                }
            }
        }
        // <method>[:<encryption key>]
        b'k' => is_token(value.split_once(':').map_or(value, |(method, _)| method)),
        // s i u e p: text
        _ => true,
    };
    match kind {
        _ if fine => Ok(()),
        b'v' => Err("is not version 0"),
        b'o' => Err("is not `<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`"),
        b'c' => Err("is not `<nettype> <addrtype> <connection-address>`"),
        b'b' => Err("is not `<bwtype>:<bandwidth>`"),
        b't' => Err("is not `<start-time> <stop-time>`"),
        b'r' => Err("is not `<repeat interval> <active duration> <offsets>…`"),
        b'z' => Err("is not `<adjustment time> <offset> …`"),
        b'k' => Err("is not `<method>[:<encryption key>]`"),
        _ => Err("has a malformed value"),
    }
}

/// A typed time (`<number>[dhms]`) in seconds, if it is one and fits a `u64`.
fn typed_time(field: Option<&str>) -> Option<u64> {
    let field = field?;
    let (number, factor) = match field.as_bytes().last()? {
        b'd' => (field.get(..field.len() - 1)?, 86_400),
        b'h' => (field.get(..field.len() - 1)?, 3_600),
        b'm' => (field.get(..field.len() - 1)?, 60),
        b's' => (field.get(..field.len() - 1)?, 1),
        _ => (field, 1),
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// Whether a `z=` offset is `[-]<typed time>` within an `i64`.
fn zone_offset(field: Option<&str>) -> bool {
    let Some(field) = field else { return false };
    let (negative, magnitude) = field.strip_prefix('-').map_or((false, field), |m| (true, m));
    typed_time(Some(magnitude)).is_some_and(|seconds| {
        let seconds = i128::from(seconds);
        i64::try_from(if negative { -seconds } else { seconds }).is_ok()
    })
}

/// RFC 8866 §9 `token`: one or more letters, digits and ``!#$%&'*+-.^_`{|}~``.
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_byte)
}

/// Whether `text` is tokens separated by single `separator`s (not a token byte), as
/// `text.split(separator).all(is_token)` says, in one pass over the bytes: a video `m=` line
/// lists some twenty formats.
fn is_token_list(text: &str, separator: u8) -> bool {
    // Whether the last byte read ended a token (or nothing was read): a separator there
    // would leave an empty token.
    let mut at_separator = true;
    for &byte in text.as_bytes() {
        if byte == separator {
            if at_separator {
                return false;
            }
            at_separator = true;
        } else if is_token_byte(byte) {
            at_separator = false;
        } else {
            return false;
        }
    }
    !at_separator
}

/// Whether `b` is a token byte: one table load (a `matches!` of the ranges costs several times
/// as many instructions per byte, and attribute names are most of what the check reads).
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES.get(usize::from(b)).is_some_and(|&token| token)
}

/// `true` at each token byte.
// Indexing in a constant: out of bounds would not compile.
#[allow(clippy::indexing_slicing)]
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b: u8 = 0;
    loop {
        table[b as usize] = matches!(
            b,
            b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'^'..=b'~'
        );
        if b == u8::MAX {
            break;
        }
        b += 1;
    }
    table
};

/// The first `a=ice-ufrag`, `a=ice-pwd` and `a=fingerprint` of a level (session or one
/// m-section), names matched without regard to ASCII case as `sdp-types` matched them.
#[derive(Default)]
struct IceSeen<'a> {
    ufrag: First<'a>,
    pwd: First<'a>,
    fingerprint: First<'a>,
}

/// The first attribute of a name at one level.
#[derive(Debug, Clone, Copy, Default)]
enum First<'a> {
    /// None yet.
    #[default]
    Unseen,
    /// Its value; `None` for one without (`a=ice-ufrag`), which does not fall back on the
    /// session's either.
    Seen(Option<&'a str>),
}

impl<'a> First<'a> {
    fn value(self) -> Option<&'a str> {
        match self {
            First::Seen(value) => value,
            First::Unseen => None,
        }
    }
}

impl<'a> IceSeen<'a> {
    fn note(&mut self, name: &str, value: Option<&'a str>) {
        let first = if name.eq_ignore_ascii_case("ice-ufrag") {
            &mut self.ufrag
        } else if name.eq_ignore_ascii_case("ice-pwd") {
            &mut self.pwd
        } else if name.eq_ignore_ascii_case("fingerprint") {
            &mut self.fingerprint
        } else {
            return;
        };
        if let First::Unseen = first {
            *first = First::Seen(value);
        }
    }

    /// Checks m-section `index`, whose attributes these are, falling back on the session's
    /// for an attribute it lacks (or has without a value).
    fn check(&self, session: &IceSeen<'a>, index: usize) -> Result<(), SdpError> {
        let ufrag = self.ufrag.value().or(session.ufrag.value());
        if !is_ice_chars(ufrag.ok_or(SdpError::MissingIceUfrag { index })?, 4) {
            return Err(SdpError::InvalidIceUfrag { index });
        }
        let pwd = self.pwd.value().or(session.pwd.value());
        if !is_ice_chars(pwd.ok_or(SdpError::MissingIcePwd { index })?, 22) {
            return Err(SdpError::InvalidIcePwd { index });
        }
        if self.fingerprint.value().or(session.fingerprint.value()).is_none() {
            return Err(SdpError::MissingFingerprint { index });
        }
        Ok(())
    }
}

/// Summarizes an SDP in one pass over its lines, without checking it: for an SDP that already
/// passed [`check`], or that the local media layer produced (the browser's own offer needs no
/// second opinion, and a full parse costs about as much as the rest of a call's signaling).
pub fn summarize(description: &SessionDescription) -> SdpSummary {
    let mut summary = SdpSummary::empty(description.sdp_type);
    let mut session_direction = Direction::SendRecv;
    for line in lines(&description.sdp) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.as_bytes() {
            [b'm', b'=', ..] => {
                let mut fields = line.get(2..).unwrap_or_default().split(' ');
                let kind = fields.next().unwrap_or_default();
                let rejected = fields.next().is_some_and(is_port_zero);
                summary.note_section(kind, rejected, session_direction);
            }
            [b'a', b'=', name @ ..] if summary_may_read(name) => {
                let attribute = line.get(2..).unwrap_or_default();
                let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
                summary.note_attribute(&mut session_direction, name, value);
            }
            _ => {}
        }
    }
    summary
}

/// Whether an attribute (its name, or its whole text) may be one the summary reads, by its
/// first two bytes: `sendrecv`, `sendonly`, `recvonly`, `inactive`, `ice-ufrag`, `mid`,
/// `candidate` and `group` pass, and so do `setup` and `ice-pwd`; most lines of an SDP (`rtpmap`,
/// `rtcp-fb`, `fmtp`, `extmap`, `ssrc`, `msid`) stop here.
fn summary_may_read(name: &[u8]) -> bool {
    matches!(
        name,
        [b's' | b'r', b'e', ..]
            | [b'i', b'n' | b'c', ..]
            | [b'm', b'i', ..]
            | [b'c', b'a', ..]
            | [b'g', b'r', ..]
    )
}

/// Whether the port field of an `m=` line (`<port>[/<count>]`) is port 0, read as [`check`]
/// reads it (as `sdp-types` did): the text before the first `/` through `u16::from_str`, which
/// takes leading zeros and a leading `+`. So `00`, `+0` and `0/2` are port 0 for both.
fn is_port_zero(field: &str) -> bool {
    let port = field.split_once('/').map_or(field, |(port, _)| port);
    port.parse::<u16>() == Ok(0)
}

/// `min..=256` ice-chars.
fn is_ice_chars(text: &str, min: usize) -> bool {
    (min..=256).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_filter_passes_every_attribute_the_summary_reads() {
        let read = [
            "sendrecv",
            "sendonly",
            "recvonly",
            "inactive",
            "mid",
            "ice-ufrag",
            "candidate",
            "group",
        ];
        for name in read {
            assert!(summary_may_read(name.as_bytes()), "{name}");
        }
        for name in ["rtpmap", "rtcp-fb", "fmtp", "extmap", "ssrc", "msid", "rtcp-mux"] {
            assert!(!summary_may_read(name.as_bytes()), "{name}");
        }
    }

    proptest::proptest! {
        /// The one-pass reading of a token list agrees with splitting it.
        #[test]
        fn a_token_list_reads_as_its_split(text in "[a-c0-9/ :]{0,12}", slash: bool) {
            let separator = if slash { '/' } else { ' ' };
            let split = text.split(separator).all(is_token);
            proptest::prop_assert_eq!(is_token_list(&text, separator as u8), split, "{:?}", text);
        }
    }
}
