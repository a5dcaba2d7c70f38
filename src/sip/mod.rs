//! SIP: messages, transactions, transports, the registrar.

pub mod auth;
pub mod guard;
pub mod msg;
pub mod transport;
pub mod txn;
