//! Every limit the codec enforces, in one place. A frame over a limit is refused with a typed
//! error before anything expensive happens to it.

use std::time::Duration;

/// The longest id (`call_id`, `party_id`, …).
pub const MAX_ID_LEN: usize = 255;

/// The longest value of an open enum (a reason code, a capability) we accept from a newer peer.
pub const MAX_TOKEN_LEN: usize = 64;

/// The largest frame, in bytes; checked before the JSON is looked at.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// The largest SDP in a `call.description`, in bytes.
pub const MAX_SDP_LEN: usize = 32 * 1024;

/// The most m-sections (`m=` lines) an SDP may have.
pub const MAX_M_SECTIONS: usize = 16;

/// The most candidates one `call.candidates` message may carry.
pub const MAX_CANDIDATES: usize = 64;

/// The longest invite prompt text, in bytes.
pub const MAX_PROMPT_LEN: usize = 1024;

/// The longest `detail` of a `call.rejected`, in bytes.
pub const MAX_DETAIL_LEN: usize = 1024;

/// The longest BCP 47 locale tag (RFC 5646 §4.4.1 recommends 35).
pub const MAX_LOCALE_LEN: usize = 35;

/// The most capabilities an invite may list.
pub const MAX_CAPABILITIES: usize = 32;

/// The most media streams a `call.media` may describe.
pub const MAX_STREAMS: usize = 8;

/// The longest `sdpMid` or `usernameFragment`.
pub const MAX_SHORT_TOKEN_LEN: usize = 256;

/// The longest media stream id (an msid-id of RFC 8830).
pub const MAX_STREAM_ID_LEN: usize = 64;

/// The largest `seq`: JavaScript numbers are exact up to 2^53 - 1.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// The largest `seq` a client may send. After a party's last frame the relay may write one
/// notice on its behalf (the hangup of a call it ended), numbered one past the party's highest
/// `seq`; keeping [`MAX_SEQ`] for that means the notice's `seq` is always a valid one.
pub const MAX_CLIENT_SEQ: u64 = MAX_SEQ - 1;

/// The invite lifetime when the agent does not choose one.
pub const DEFAULT_INVITE_LIFETIME: Duration = Duration::from_secs(60);

/// The shortest invite lifetime: a visitor needs time to read the prompt.
pub const MIN_INVITE_LIFETIME: Duration = Duration::from_secs(10);

/// The longest invite lifetime: an invite must not ring hours later.
pub const MAX_INVITE_LIFETIME: Duration = Duration::from_secs(600);
