//! [`SharedStr`]: an immutable string that may be a slice of a larger shared text.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable string, possibly a slice of a text shared with other values.
///
/// A decoder that reads many short strings out of one frame (a `call.candidates` frame holds
/// up to 64 candidates, each with its candidate line, `sdpMid` and `usernameFragment`) copies
/// the frame once into an [`Arc<str>`] and hands out slices of it: no allocation per value.
/// The price is that any one slice keeps the whole text alive, so decoders share only small
/// texts.
///
/// Everywhere else it behaves as a `str`: it dereferences to one, and compares, orders,
/// hashes, prints and serializes as its text. Build one from a `&str` or a `String` with
/// `into()`.
///
/// ```
/// use std::sync::Arc;
/// use velaro_ice_config::SharedStr;
///
/// let frame: Arc<str> = Arc::from(r#"{"sdpMid":"0","usernameFragment":"lZ7j"}"#);
/// let ufrag = SharedStr::slice(&frame, 34..38).expect("a slice on character boundaries");
/// assert_eq!(ufrag, "lZ7j");
/// assert_eq!(ufrag, SharedStr::from("lZ7j"));
/// assert_eq!(ufrag.len(), 4);
/// ```
#[derive(Clone)]
pub struct SharedStr {
    source: Arc<str>,
    // Offsets in 32 bits keep the value as small as a `String`; `end` is `WHOLE` for a value
    // that is all of its source, whatever its length.
    start: u32,
    end: u32,
}

/// The `end` of a value that is all of its source.
const WHOLE: u32 = u32::MAX;

impl SharedStr {
    /// The slice `range` of `source`, sharing it; `None` when `range` is out of bounds, not on
    /// character boundaries, or ends past the first 4 GiB of `source`.
    pub fn slice(source: &Arc<str>, range: Range<usize>) -> Option<Self> {
        source.get(range.clone())?;
        let start = u32::try_from(range.start).ok()?;
        let end = u32::try_from(range.end).ok().filter(|&end| end != WHOLE)?;
        Some(SharedStr { source: Arc::clone(source), start, end })
    }

    fn whole(source: Arc<str>) -> Self {
        SharedStr { source, start: 0, end: WHOLE }
    }

    /// How many bytes of text this value keeps alive: its own length, or the whole shared
    /// text it is a slice of. For memory estimates.
    pub fn retained_len(&self) -> usize {
        self.source.len()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // The range was checked when the value was made, and the source never changes.
        if self.end == WHOLE {
            return &self.source;
        }
        // Offsets in 32 bits widen losslessly.
        let range = self.start as usize..self.end as usize;
        self.source.get(range).unwrap_or_default()
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr::whole(Arc::from(text))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr::whole(Arc::from(text))
    }
}

impl From<SharedStr> for String {
    fn from(text: SharedStr) -> Self {
        text.as_str().to_owned()
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::serde_str::deserialize_from_str(deserializer)
    }
}

impl std::str::FromStr for SharedStr {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(SharedStr::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_its_text_and_keeps_to_character_boundaries() {
        let source: Arc<str> = Arc::from("añb");
        let a = SharedStr::slice(&source, 0..1);
        let n = SharedStr::slice(&source, 1..3);
        assert_eq!((a.as_deref(), n.as_deref()), (Some("a"), Some("ñ")));
        assert!(SharedStr::slice(&source, 1..2).is_none(), "inside `ñ`");
        assert!(SharedStr::slice(&source, 2..9).is_none(), "out of bounds");
        assert_eq!(Arc::strong_count(&source), 3, "the two slices share the text");
        assert_eq!(a.map(|a| a.retained_len()), Some(4), "and keep all of it alive");
        assert_eq!(size_of::<SharedStr>(), size_of::<String>());
    }

    #[test]
    fn compares_hashes_and_serializes_as_its_text() {
        use std::collections::hash_map::DefaultHasher;
        let source: Arc<str> = Arc::from("xx0yy");
        let shared = SharedStr::slice(&source, 2..3).unwrap();
        let owned = SharedStr::from("0");
        assert_eq!(shared, owned);
        let hash = |s: &SharedStr| {
            let mut h = DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&shared), hash(&owned));
        assert_eq!(serde_json::to_string(&shared).unwrap(), r#""0""#);
        assert_eq!(serde_json::from_str::<SharedStr>(r#""0""#).unwrap(), shared);
        assert_eq!(format!("{shared:?} {shared}"), r#""0" 0"#);
        assert_eq!(
            SharedStr::from("a").cmp(&SharedStr::slice(&source, 0..1).unwrap()),
            Ordering::Less
        );
    }
}
