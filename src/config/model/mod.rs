//! The desired state of one tenant, as written in `tenants/<id>.toml`.
//!
//! These types are the schema: `pbxctl schema` generates JSON Schemas from them, so every
//! field has a doc comment (it becomes the editor's hover text) and every struct denies
//! unknown fields (a typo is an error, not a silent default). The types only describe
//! shape; cross-references and numbering rules are checked in `config::check`.

mod apps;
mod extension;
mod integration;
mod routing;
mod values;

pub use apps::*;
pub use extension::*;
pub use integration::*;
pub use routing::*;
pub use values::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One tenant file. The file name (without `.toml`) is the tenant id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pbx tenant")]
pub struct TenantFile {
    /// The tenant's settings: name, SIP domains, time zone, limits.
    pub tenant: TenantSettings,
    /// Phones and softphones: one entry per internal number.
    #[serde(default, rename = "extension", skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    /// Public numbers (DIDs) of the tenant and where their calls go.
    #[serde(default, rename = "did", skip_serializing_if = "Vec::is_empty")]
    pub dids: Vec<Did>,
    /// SIP trunks to carriers.
    #[serde(default, rename = "trunk", skip_serializing_if = "Vec::is_empty")]
    pub trunks: Vec<Trunk>,
    /// Outbound routes, tried in file order: the first whose pattern matches the dialled number wins.
    #[serde(default, rename = "route", skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Named weekly schedules, date ranges and holidays, used by DIDs, IVRs and forwarding.
    #[serde(default, rename = "schedule", skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// Voice menus.
    #[serde(default, rename = "ivr", skip_serializing_if = "Vec::is_empty")]
    pub ivrs: Vec<Ivr>,
    /// Call queues with agents.
    #[serde(default, rename = "queue", skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<Queue>,
    /// Numbers refused inbound or outbound.
    #[serde(default, rename = "blacklist", skip_serializing_if = "Vec::is_empty")]
    pub blacklists: Vec<Blacklist>,
    /// Conference rooms.
    #[serde(default, rename = "conference", skip_serializing_if = "Vec::is_empty")]
    pub conferences: Vec<Conference>,
    /// Voicemail boxes.
    #[serde(default, rename = "voicemail", skip_serializing_if = "Vec::is_empty")]
    pub voicemails: Vec<Voicemail>,
    /// Fax boxes: received faxes are emailed as PDF.
    #[serde(default, rename = "fax", skip_serializing_if = "Vec::is_empty")]
    pub faxes: Vec<FaxBox>,
    /// Audio files used by IVRs, queues, voicemail greetings and music on hold.
    #[serde(default, rename = "sound", skip_serializing_if = "Vec::is_empty")]
    pub sounds: Vec<Sound>,
    /// Email notifications of the tenant.
    #[serde(default, skip_serializing_if = "Notifications::is_empty")]
    pub notifications: Notifications,
    /// HTTP endpoints that receive the tenant's events.
    #[serde(default, rename = "webhook", skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
    /// Users of the REST API: tenant administrators and employees.
    #[serde(default, rename = "api_user", skip_serializing_if = "Vec::is_empty")]
    pub api_users: Vec<ApiUser>,
}

/// Settings of the tenant as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Display name, e.g. "Acme Corp".
    pub name: String,
    /// SIP domains of the tenant; phones register as `number@domain`. At least one.
    /// Example: `["acme.pbx.example.net"]`.
    pub domains: Vec<String>,
    /// IANA time zone used by schedules and reports, e.g. "Europe/Berlin".
    pub timezone: String,
    /// Language of prompts, e.g. "en" or "de".
    #[serde(default = "default_language")]
    pub language: String,
    /// Digits in an extension number: 2 to 4.
    pub extension_digits: u8,
    /// Whether extensions may dial international numbers at all. Off by default: calls
    /// abroad are refused until a tenant admin turns this on.
    #[serde(default)]
    pub international: bool,
    /// Limits of the tenant.
    #[serde(default)]
    pub limits: Limits,
}

fn default_language() -> String {
    "en".to_owned()
}

/// Limits that protect the node and the tenant's bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Concurrent calls of the whole tenant. Example: 30.
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    /// New calls per second for the tenant. Example: 5.
    #[serde(default = "default_calls_per_second")]
    pub calls_per_second: u32,
    /// Concurrent calls per extension, unless the extension sets its own.
    #[serde(default = "default_calls_per_extension")]
    pub calls_per_extension: u32,
    /// Disk space for call recordings in MiB; the oldest recordings go first when it is full.
    #[serde(default = "default_recording_quota")]
    pub recording_quota_mb: u64,
}

fn default_max_calls() -> u32 {
    10
}
fn default_calls_per_second() -> u32 {
    5
}
fn default_calls_per_extension() -> u32 {
    2
}
fn default_recording_quota() -> u64 {
    1024
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_calls: default_max_calls(),
            calls_per_second: default_calls_per_second(),
            calls_per_extension: default_calls_per_extension(),
            recording_quota_mb: default_recording_quota(),
        }
    }
}

/// Implements Deserialize for a type written either as a string (parsed with FromStr) or
/// as a table (deserialized into `$table`), with one clear error for anything else.
macro_rules! string_or_table {
    ($ty:ty, $table:ty, $expect:literal, $from_table:expr) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        let table = <$table as serde::Deserialize>::deserialize(
                            serde::de::value::MapAccessDeserializer::new(map),
                        )?;
                        Ok($from_table(table))
                    }
                }
                d.deserialize_any(Visitor)
            }
        }
    };
}
pub(crate) use string_or_table;

/// The kinds of object a tenant file holds, in file order; used by plans and `pbxctl get`.
pub const OBJECT_KINDS: &[&str] = &[
    "tenant",
    "extension",
    "did",
    "trunk",
    "route",
    "schedule",
    "ivr",
    "queue",
    "blacklist",
    "conference",
    "voicemail",
    "fax",
    "sound",
    "notifications",
    "webhook",
    "api_user",
];
