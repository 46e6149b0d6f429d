//! Printing: `Display` for [`Candidate`] (`candidate:…`, what browsers put in
//! `RTCIceCandidateInit`), and the printed length the limits are checked against.

use std::fmt;

use super::Candidate;

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport.as_str(),
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(address) = &self.related_address {
            write!(f, " raddr {address}")?;
        }
        if let Some(port) = self.related_port {
            write!(f, " rport {port}")?;
        }
        for extension in &self.extensions {
            write!(f, " {extension}")?;
        }
        Ok(())
    }
}

impl Candidate {
    /// The length of the printed form, counted without allocating.
    pub(super) fn printed_len(&self) -> usize {
        /// Counts the bytes written to it.
        struct Counter(usize);
        impl fmt::Write for Counter {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                self.0 += text.len();
                Ok(())
            }
        }
        let mut counter = Counter(0);
        // Counting cannot fail, and `Display` for `Candidate` returns only the writer's errors.
        let _ = fmt::Write::write_fmt(&mut counter, format_args!("{self}"));
        counter.0
    }
}
