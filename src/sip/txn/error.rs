//! The error type of the transaction layer.
//!
//! Exists so the TU can tell "answer 503" ([`TxnError::Full`]) from its own mistakes
//! (unknown key, a response the state machine cannot send). It must never carry peer
//! bytes: a malformed message is reported by its [`ParseError`] only.

use super::TxnState;
use crate::sip::msg::ParseError;

/// Why the transaction layer refused a message or a request from the TU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The layer holds [`super::TxnConfig::max_transactions`] transactions; a server
    /// answers the request 503 statelessly, a client fails the request locally.
    #[error("transaction table full ({max} transactions)")]
    Full { max: usize },
    /// The message lacks or has a malformed header the layer needs (Via, CSeq, ...).
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// A response was given where a request is needed.
    #[error("not a request")]
    NotRequest,
    /// A request was given where a response is needed.
    #[error("not a response")]
    NotResponse,
    /// ACK never has a client transaction: the ACK for a non-2xx is sent by the INVITE
    /// transaction, the ACK for a 2xx by the TU with [`super::TxnLayer::send_stateless`].
    #[error("ACK is not sent in a transaction of its own")]
    Ack,
    /// A request we send must carry a top Via branch starting with `z9hG4bK`.
    #[error("top Via has no RFC 3261 branch")]
    NoBranch,
    /// A transaction with the same key exists (branch reused).
    #[error("a transaction with this key exists")]
    Duplicate,
    /// No transaction has this key (it was never created or has terminated).
    #[error("no such transaction")]
    Unknown,
    /// The transaction cannot send this response in its current state (e.g. a second
    /// final response, or any response on a client transaction).
    #[error("cannot send a {status} response in state {state}")]
    State { status: u16, state: TxnState },
}
