//! [`Extension`]: the `name value` pairs after `typ` (`tcptype` with [`TcpType`],
//! `generation`, `ufrag`, `network-id`, `network-cost` and any other), parsed and printed.

use std::fmt;

use super::CandidateError;
use super::parse::{is_ice_token, is_token, value_u32};
use crate::host::excerpt;

/// The role of a TCP candidate (RFC 6544 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpType {
    /// Opens connections, never accepts them (browsers use port 9).
    Active,
    /// Accepts connections.
    Passive,
    /// Simultaneous open.
    So,
}

impl TcpType {
    /// The value as written after `tcptype`.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::So => "so",
        }
    }
}

/// One `name value` pair after `typ`, in the order it was written, borrowed from the
/// candidate's text ([`Candidate::extensions`](super::Candidate::extensions)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension<'a> {
    /// `tcptype` (RFC 6544).
    TcpType(TcpType),
    /// `generation`: which ICE restart the candidate belongs to (browsers' extension).
    Generation(u32),
    /// `ufrag`: the ICE username fragment the candidate belongs to.
    Ufrag(&'a str),
    /// `network-id` (browsers' extension).
    NetworkId(u32),
    /// `network-cost` (browsers' extension).
    NetworkCost(u32),
    /// Any other extension, kept as written.
    Other {
        /// The attribute name.
        name: &'a str,
        /// The attribute value.
        value: &'a str,
    },
}

impl<'a> Extension<'a> {
    /// The attribute name.
    pub fn name(&self) -> &'a str {
        match self {
            Extension::TcpType(_) => "tcptype",
            Extension::Generation(_) => "generation",
            Extension::Ufrag(_) => "ufrag",
            Extension::NetworkId(_) => "network-id",
            Extension::NetworkCost(_) => "network-cost",
            Extension::Other { name, .. } => name,
        }
    }

    /// Checks one pair: known names by their own grammar, any other name as a token with a
    /// visible-ASCII value.
    pub(super) fn parse(name: &'a str, value: &'a str) -> Result<Self, CandidateError> {
        let invalid = |field| CandidateError::Invalid { field, value: excerpt(value) };
        let number = |field| value_u32(value).ok_or_else(|| invalid(field));
        Ok(match name {
            "tcptype" => Extension::TcpType(match value {
                "active" => TcpType::Active,
                "passive" => TcpType::Passive,
                "so" => TcpType::So,
                _ => return Err(invalid("tcptype")),
            }),
            "generation" => Extension::Generation(number("generation")?),
            "network-id" => Extension::NetworkId(number("network-id")?),
            "network-cost" => Extension::NetworkCost(number("network-cost")?),
            "ufrag" if is_ice_token(value, 1, 256) => Extension::Ufrag(value),
            "ufrag" => return Err(invalid("ufrag")),
            _ if !is_token(name) => {
                return Err(CandidateError::Invalid {
                    field: "extension name",
                    value: excerpt(name),
                });
            }
            _ if !value.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(invalid("extension value"));
            }
            _ => Extension::Other { name, value },
        })
    }
}

impl fmt::Display for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Extension::TcpType(tcp) => write!(f, "{name} {}", tcp.as_str()),
            Extension::Generation(n) | Extension::NetworkId(n) | Extension::NetworkCost(n) => {
                write!(f, "{name} {n}")
            }
            Extension::Ufrag(value) | Extension::Other { value, .. } => write!(f, "{name} {value}"),
        }
    }
}
