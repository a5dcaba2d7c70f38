//! What the layer hands out: bytes to send ([`Transmit`]) and news for the TU
//! ([`TxnEvent`]).
//!
//! Exists so the shell and the TU pull output instead of being called back (quinn-proto's
//! `poll_transmit` / `poll_event`). It must never hold a socket or a callback.

use bytes::Bytes;

use super::error::TxnError;
use super::key::TxnKey;
use crate::sip::msg::Message;

/// Bytes for the shell to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<P> {
    /// Where to send: the request's destination (client) or source (server).
    pub dest: P,
    /// One complete SIP message.
    pub bytes: Bytes,
    /// The transaction it belongs to, to report a failure with
    /// [`super::TxnLayer::handle_transport_error`]; `None` for stateless sends.
    pub key: Option<TxnKey>,
}

/// What the TU must know about.
#[derive(Debug, Clone)]
pub enum TxnEvent<P> {
    /// A new request; a server transaction `key` was created. Answer it with
    /// [`super::TxnLayer::send_response`].
    Request { key: TxnKey, msg: Message, source: P },
    /// An ACK that belongs to no transaction (the ACK for a 2xx, RFC 3261 §17.2.3), or
    /// one that reached an INVITE server transaction in Accepted (RFC 6026).
    Ack { msg: Message, source: P },
    /// A response for client transaction `key` (retransmissions are absorbed, except 2xx
    /// to an INVITE, which the TU must ACK each time).
    Response { key: TxnKey, msg: Message },
    /// No transaction could be created for this request: when `error` is
    /// [`TxnError::Full`], answer 503 with [`super::TxnLayer::send_stateless`]; when it is
    /// [`TxnError::Malformed`], answer 400 if the request can be answered at all.
    Rejected { msg: Message, source: P, error: TxnError },
    /// Timer B or F (client: no final response) or H (server: no ACK) expired.
    Timeout(TxnKey),
    /// The shell reported a send failure; the transaction is gone.
    TransportError(TxnKey),
    /// The transaction is gone; every transaction ends with exactly one of these.
    Terminated(TxnKey),
}
