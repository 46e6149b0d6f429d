//! What the owner judges: one entry of a conversation's inbound stream or journal.

use std::collections::HashMap;

use bytes::Bytes;
use redis::Value;
use velaro_call_state::velaro_call_protocol::{PartyId, Role};

use super::error::ClusterError;

/// One input to a conversation's relay, as the nodes append it and the journal keeps it.
///
/// A session's inputs are numbered (`q`, from 1 for its connect): an append that Redis ran
/// although the node timed out on it, and then ran again when the node retried, is judged once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Input {
    /// A session connected on `node` (a reconnect names what it saw in `seen`).
    Connect {
        node: String,
        session: u64,
        q: u64,
        role: Role,
        party: PartyId,
        video: bool,
        seen: Option<Vec<(PartyId, u64)>>,
    },
    /// A frame a session read.
    Frame { node: String, session: u64, q: u64, frame: Bytes },
    /// A session's transport ended.
    Disconnect { node: String, session: u64, q: u64 },
    /// The owner's timer: what is due at the entry's time.
    Timeout,
    /// A node's heartbeat expired: its sessions are gone.
    NodeGone { node: String },
}

/// The fields of a stream entry, as the client reads them.
pub(super) type Fields = HashMap<String, Value>;

impl Input {
    /// The entry's fields, as written with `XADD` (kind first).
    pub(super) fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let text = |s: &str| s.as_bytes().to_vec();
        let number = |n: u64| n.to_string().into_bytes();
        match self {
            Input::Connect { node, session, q, role, party, video, seen } => {
                let mut fields = vec![
                    ("k", text("c")),
                    ("n", text(node)),
                    ("s", number(*session)),
                    ("q", number(*q)),
                    ("r", text(role_str(*role))),
                    ("p", text(party.as_str())),
                    ("v", text(if *video { "1" } else { "0" })),
                ];
                if let Some(seen) = seen {
                    let list: Vec<String> = seen
                        .iter()
                        .map(|(party, seq)| format!("{}:{seq}", party.as_str()))
                        .collect();
                    fields.push(("seen", list.join(",").into_bytes()));
                }
                fields
            }
            Input::Frame { node, session, q, frame } => vec![
                ("k", text("f")),
                ("n", text(node)),
                ("s", number(*session)),
                ("q", number(*q)),
                ("b", frame.to_vec()),
            ],
            Input::Disconnect { node, session, q } => {
                vec![
                    ("k", text("d")),
                    ("n", text(node)),
                    ("s", number(*session)),
                    ("q", number(*q)),
                ]
            }
            Input::Timeout => vec![("k", text("t"))],
            Input::NodeGone { node } => vec![("k", text("g")), ("n", text(node))],
        }
    }

    /// Reads an entry written by [`to_fields`](Self::to_fields); `stream` and `id` name it in
    /// the error.
    pub(super) fn from_fields(
        fields: &Fields,
        stream: &'static str,
        id: &str,
    ) -> Result<Input, ClusterError> {
        let bad =
            |field: &'static str| ClusterError::Malformed { stream, id: id.to_owned(), field };
        let bytes = |field: &'static str| -> Result<Vec<u8>, ClusterError> {
            fields
                .get(field)
                .and_then(|v| redis::from_redis_value_ref::<Vec<u8>>(v).ok())
                .ok_or_else(|| bad(field))
        };
        let text = |field: &'static str| -> Result<String, ClusterError> {
            String::from_utf8(bytes(field)?).map_err(|_| bad(field))
        };
        let number = |field: &'static str| -> Result<u64, ClusterError> {
            text(field)?.parse().map_err(|_| bad(field))
        };
        match text("k")?.as_str() {
            "c" => {
                let role = match text("r")?.as_str() {
                    "agent" => Role::Agent,
                    "visitor" => Role::Visitor,
                    _ => return Err(bad("r")),
                };
                let party = PartyId::new(text("p")?).map_err(|_| bad("p"))?;
                let seen = if fields.contains_key("seen") {
                    Some(parse_seen(&text("seen")?).ok_or_else(|| bad("seen"))?)
                } else {
                    None
                };
                Ok(Input::Connect {
                    node: text("n")?,
                    session: number("s")?,
                    q: number("q")?,
                    role,
                    party,
                    video: text("v")? == "1",
                    seen,
                })
            }
            "f" => Ok(Input::Frame {
                node: text("n")?,
                session: number("s")?,
                q: number("q")?,
                frame: Bytes::from(bytes("b")?),
            }),
            "d" => {
                Ok(Input::Disconnect { node: text("n")?, session: number("s")?, q: number("q")? })
            }
            "t" => Ok(Input::Timeout),
            "g" => Ok(Input::NodeGone { node: text("n")? }),
            _ => Err(bad("k")),
        }
    }
}

/// The wire name of a role.
pub(super) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Agent => "agent",
        Role::Visitor => "visitor",
    }
}

/// `party:seq,party:seq` (party ids have neither `:` nor `,`); empty for none.
fn parse_seen(list: &str) -> Option<Vec<(PartyId, u64)>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(',')
        .map(|item| {
            let (party, seq) = item.split_once(':')?;
            Some((PartyId::new(party).ok()?, seq.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(input: &Input) -> Result<Input, ClusterError> {
        let fields: Fields = input
            .to_fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::BulkString(value)))
            .collect();
        Input::from_fields(&fields, "inbound", "1-0")
    }

    #[test]
    fn every_input_reads_back_as_written() {
        let party = PartyId::new("visitor-1").unwrap();
        let inputs = [
            Input::Connect {
                node: "a".into(),
                session: 7,
                q: 1,
                role: Role::Visitor,
                party: party.clone(),
                video: true,
                seen: Some(vec![(PartyId::new("agent-1").unwrap(), 12)]),
            },
            Input::Connect {
                node: "a".into(),
                session: 8,
                q: 1,
                role: Role::Agent,
                party,
                video: false,
                seen: None,
            },
            Input::Frame {
                node: "b".into(),
                session: 1,
                q: 2,
                frame: Bytes::from_static(b"\xff{}"),
            },
            Input::Disconnect { node: "b".into(), session: 1, q: 3 },
            Input::Timeout,
            Input::NodeGone { node: "c".into() },
        ];
        for input in inputs {
            assert_eq!(read_back(&input), Ok(input));
        }
    }

    #[test]
    fn a_malformed_entry_names_its_field() {
        let fields: Fields = [("k", "c"), ("n", "a"), ("s", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::BulkString(v.as_bytes().to_vec())))
            .collect();
        let error = Input::from_fields(&fields, "inbound", "1-0").unwrap_err();
        assert!(matches!(error, ClusterError::Malformed { field: "r", .. }), "{error:?}");
        assert_eq!(
            Input::from_fields(&Fields::new(), "journal", "2-0"),
            Err(ClusterError::Malformed { stream: "journal", id: "2-0".into(), field: "k" })
        );
    }
}
