//! SIP: messages, transactions, transports, the registrar and the core that ties them.

pub mod auth;
pub mod core;
pub mod guard;
pub mod msg;
pub mod persist;
pub mod registrar;
pub mod service;
pub mod transport;
pub mod txn;
