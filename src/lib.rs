//! pbx: a multi-tenant IP PBX. The library holds everything; `pbxd` and `pbxctl` are thin
//! binaries over it.

#![deny(unsafe_code)]

pub mod api;
pub mod call;
pub mod config;
pub mod daemon;
pub mod dialplan;
pub mod events;
pub mod fast_map;
pub mod heap;
pub mod http_client;
pub mod mail;
pub mod media;
pub mod plan;
pub mod reconcile;
pub mod sip;
pub mod store;
pub mod trunk;
pub mod webhook;
