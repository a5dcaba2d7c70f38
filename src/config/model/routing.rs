//! Numbers in and out: DIDs, trunks, outbound routes, and the schedules they consult.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CallClass, Destination, Duration, SecretRef};

/// A public number of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Did {
    /// The number in E.164. Example: "+4930123456".
    pub number: String,
    /// Where calls to it go when no `when` rule matches.
    pub to: Destination,
    /// Rules checked in order before `to`: the first whose schedule is active wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<ScheduledDestination>,
}

/// A destination used while a schedule is (or, with "!", is not) active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledDestination {
    /// A schedule name; prefix "!" for "while it is not active". Example: "!business-hours".
    pub schedule: String,
    /// Where the call goes.
    pub to: Destination,
}

/// A SIP trunk to a carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    /// Name used by routes. Example: "carrier".
    pub name: String,
    /// Carrier host name or IP address. Example: "sip.carrier.example".
    pub host: String,
    /// Carrier port.
    #[serde(default = "default_sip_port")]
    pub port: u16,
    /// Transport to the carrier.
    #[serde(default)]
    pub transport: Transport,
    /// Register to the carrier, for trunks that authenticate by registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<TrunkRegistration>,
    /// How inbound calls from this carrier are recognised.
    #[serde(default, skip_serializing_if = "TrunkInbound::is_empty")]
    pub inbound: TrunkInbound,
    /// Codecs offered to the carrier, in order of preference.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<Codec>,
    /// Caller ID rules for outbound calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<TrunkCallerId>,
    /// Concurrent calls the carrier allows on this trunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_channels: Option<u32>,
}

fn default_sip_port() -> u16 {
    5060
}

fn default_codecs() -> Vec<Codec> {
    vec![Codec::Pcma, Codec::Pcmu, Codec::TelephoneEvent]
}

/// A SIP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// Registration of pbxd at the carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkRegistration {
    /// Account user name at the carrier.
    pub user: String,
    /// Account password, as a reference: "env:NAME" or "file:PATH".
    pub secret: SecretRef,
    /// Requested registration lifetime.
    #[serde(default = "default_registration_expiry")]
    pub expiry: Duration,
}

fn default_registration_expiry() -> Duration {
    Duration::from_secs(3600)
}

/// Recognising inbound calls of a trunk: by source address, or (when empty and the trunk
/// registers) by the registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkInbound {
    /// Source addresses or networks of the carrier. Example: ["192.0.2.10", "198.51.100.0/24"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl TrunkInbound {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// An audio codec or the DTMF event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 wideband.
    G722,
    /// Opus.
    Opus,
    /// RFC 4733 DTMF events.
    TelephoneEvent,
}

/// Outbound caller ID on a trunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkCallerId {
    /// Number sent when the caller's own caller ID is not allowed through. Example: "+4930123456".
    pub default: String,
    /// Dial patterns of caller IDs the carrier accepts as they are (usually the tenant's DID
    /// block). Example: ["+4930123456X"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// An outbound route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Name shown in plans and CDRs. Example: "national".
    pub name: String,
    /// Dial patterns, any of which selects this route. Syntax: digits, `+`, `*` and `#`
    /// match themselves; `X` any digit, `Z` 1-9, `N` 2-9, `[1-5]` or `[136]` a digit from the
    /// set; `.` one or more further characters and `!` zero or more, only at the end.
    /// Example: ["0[1-9]XXXX."].
    pub patterns: Vec<String>,
    /// Number of leading characters removed before sending to the trunk.
    #[serde(default)]
    pub strip: u32,
    /// Text put in front of the number after stripping. Example: "+49".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prepend: String,
    /// Trunks to try, in failover order.
    pub trunks: Vec<String>,
    /// The class of numbers this route reaches; callers need it in their `dial` list.
    pub class: CallClass,
}

/// A named schedule: active during its weekly ranges or date ranges, never on holidays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Name used by DIDs, IVRs and forwarding. Example: "business-hours".
    pub name: String,
    /// Time zone of the ranges; defaults to the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Weekly ranges: days, then a time range. Example: ["mon-fri 08:00-18:00", "sat 10:00-14:00"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekly: Vec<String>,
    /// Whole-day date ranges during which the schedule is active. Example: ["2026-12-27..2026-12-30"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<String>,
    /// Dates on which the schedule is never active. Example: ["2026-12-25", "2026-12-26"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
}
