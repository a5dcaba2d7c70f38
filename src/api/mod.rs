//! HTTP APIs of pbxd. For now the admin API that pbxctl uses; the reporting and call-control
//! APIs join it later under their own prefixes.

pub mod admin;
pub mod error;
pub mod https;
pub mod v1;
