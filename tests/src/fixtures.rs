//! The captured browser data in `tests/fixtures/browser/`, for every test that needs real SDP.

use std::path::PathBuf;

use velaro_call_protocol::message::description::{SdpType, SessionDescription};

/// `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The SDP of a captured description (`pc.localDescription.toJSON()`), e.g.
/// `chromium-offer-av.json`. Panics when the fixture is missing: a test setup error.
pub fn browser_sdp(file: &str) -> String {
    let path = fixtures_dir().join("browser").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    json["sdp"].as_str().unwrap_or_else(|| panic!("{path:?} has no sdp")).to_owned()
}

/// A captured description as `sdp_type`.
pub fn browser_description(file: &str, sdp_type: SdpType) -> SessionDescription {
    SessionDescription::new(sdp_type, browser_sdp(file))
}
