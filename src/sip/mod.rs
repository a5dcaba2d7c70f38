//! SIP: messages, transactions, transports, the registrar.

pub mod msg;
