//! Printing: `Display` for [`Candidate`] (its kept `candidate:…` form), and [`Parts`], which
//! writes that form for a candidate whose text was not already in it (a bare value, `UDP`, an
//! uncompressed IPv6 address, `rport` before `raddr`) or whose related address was blanked.

use std::fmt::{self, Write as _};

use super::{Candidate, CandidateAddress, CandidateKind, CandidateTransport, PREFIX};

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of a candidate before `typ`'s extensions, as they print.
pub(super) struct Parts<'a> {
    pub(super) foundation: &'a str,
    pub(super) component: u16,
    pub(super) transport: &'a CandidateTransport,
    pub(super) priority: u32,
    pub(super) address: &'a CandidateAddress,
    pub(super) port: u16,
    pub(super) kind: CandidateKind,
    pub(super) related_address: Option<&'a CandidateAddress>,
    pub(super) related_port: Option<u16>,
}

impl<'a> Parts<'a> {
    pub(super) fn of(candidate: &'a Candidate) -> Parts<'a> {
        Parts {
            foundation: candidate.foundation(),
            component: candidate.component,
            transport: &candidate.transport,
            priority: candidate.priority,
            address: &candidate.address,
            port: candidate.port,
            kind: candidate.kind,
            related_address: candidate.related_address.as_ref(),
            related_port: candidate.related_port,
        }
    }

    /// `candidate:…` with `extensions` (already printed, `name value …`) at the end.
    pub(super) fn print(&self, extensions: &str) -> String {
        let mut text = String::with_capacity(96 + extensions.len());
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "{PREFIX}{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport.as_str(),
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        );
        if let Some(address) = self.related_address {
            let _ = write!(text, " raddr {address}");
        }
        if let Some(port) = self.related_port {
            let _ = write!(text, " rport {port}");
        }
        if !extensions.is_empty() {
            text.push(' ');
            text.push_str(extensions);
        }
        text
    }
}
