//! pbx: a multi-tenant IP PBX. The library holds everything; `pbxd` and `pbxctl` are thin
//! binaries over it.

#![forbid(unsafe_code)]

pub mod config;
pub mod dialplan;
