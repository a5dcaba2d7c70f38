//! Extensions: the tenant's phones, their credentials, permissions and forwarding.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Destination, Duration, Md5Hex, SecretRef, Sha256Hex, string_or_table};

/// One phone number inside the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The internal number, exactly `extension_digits` digits. Example: "101".
    pub number: String,
    /// The person or place, shown as caller name on internal calls. Example: "Alice Example".
    pub name: String,
    /// Email address for voicemail and missed-call notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// SIP digest credentials: `{ ha1 = "…", ha1_sha256 = "…" }` from `pbxctl secret hash`,
    /// or a reference `"env:NAME"` / `"file:PATH"` to the plaintext password.
    pub secret: SipSecret,
    /// Caller ID presented on external calls; the trunk's rules may still replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<CallerId>,
    /// Prompt language of this extension, overriding the tenant's. Example: "de".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The voicemail box (its number) that takes this extension's unanswered calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail: Option<String>,
    /// Call recording: "never", "always", or "on_demand" (started with a feature code).
    #[serde(default)]
    pub record: RecordPolicy,
    /// Groups this extension belongs to, used for pickup and permissions. Example: ["sales"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// What this extension may do to other extensions' calls.
    #[serde(default, skip_serializing_if = "Permissions::is_empty")]
    pub may: Permissions,
    /// Classes of numbers this extension may dial. International also needs the tenant's
    /// `international = true`.
    #[serde(default = "default_dial_classes")]
    pub dial: Vec<CallClass>,
    /// Forwarding rules, checked in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<ForwardRule>,
    /// Other numbers (a mobile, a home phone) that ring with this extension.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_ring: Vec<BoundNumber>,
    /// Concurrent calls of this extension; defaults to the tenant's `calls_per_extension`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u32>,
    /// Send an email to `email` for every call to this extension that nobody answered.
    #[serde(default)]
    pub missed_call_email: bool,
}

/// Digest credentials of an extension.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SipSecret {
    /// Precomputed HA1 values: MD5 and/or SHA-256 of "user:realm:password".
    Hashes(Ha1Hashes),
    /// A reference to the plaintext password outside the file.
    Reference(SecretRef),
}

string_or_table!(
    SipSecret,
    Ha1Hashes,
    "a secret reference \"env:NAME\" / \"file:PATH\" or a table { ha1 = \"…\", ha1_sha256 = \"…\" }",
    SipSecret::Hashes
);

impl std::str::FromStr for SipSecret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(SipSecret::Reference)
    }
}

/// HA1 digests, computed by `pbxctl secret hash --realm DOMAIN --user NUMBER`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ha1Hashes {
    /// MD5(user:realm:password), for phones that only speak MD5 digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha1: Option<Md5Hex>,
    /// SHA-256(user:realm:password), for RFC 8760 phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha1_sha256: Option<Sha256Hex>,
}

/// Caller ID for external calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerId {
    /// Display name. Example: "Acme Sales".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number in E.164, usually one of the tenant's DIDs. Example: "+4930123456".
    pub number: String,
}

/// When calls of an extension are recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordPolicy {
    /// Never recorded.
    #[default]
    Never,
    /// Every call recorded.
    Always,
    /// Recorded when the user asks with the feature code during the call.
    OnDemand,
}

/// Targets an extension may act on. Each target is "extension:NUMBER" or "group:NAME".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Ringing calls this extension may pick up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pickup: Vec<String>,
    /// Calls this extension may listen to silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitor: Vec<String>,
    /// Calls in which this extension may whisper to the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whisper: Vec<String>,
    /// Calls this extension may barge into, heard by both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub barge: Vec<String>,
    /// Answered calls this extension may take over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intercept: Vec<String>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        self.all().all(|(_, targets)| targets.is_empty())
    }
    /// Every permission with its name, for checks that treat them alike.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Vec<String>)> {
        [
            ("pickup", &self.pickup),
            ("monitor", &self.monitor),
            ("whisper", &self.whisper),
            ("barge", &self.barge),
            ("intercept", &self.intercept),
        ]
        .into_iter()
    }
}

/// Classes of dialled numbers, used to permit outbound calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallClass {
    /// Extensions and services of the tenant.
    Internal,
    /// Numbers in the tenant's own country.
    National,
    /// Numbers abroad.
    International,
    /// Emergency services; always allowed, listed for routes.
    Emergency,
}

fn default_dial_classes() -> Vec<CallClass> {
    vec![CallClass::Internal, CallClass::National, CallClass::Emergency]
}

/// One forwarding rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardRule {
    /// When the rule applies: "always", "busy", "no_answer" or "unavailable" (not registered).
    pub when: ForwardWhen,
    /// For "no_answer": how long the extension rings first. Example: "20s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Duration>,
    /// Only while this schedule is active; prefix "!" for "while it is not". Example: "after-hours".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Where the call goes: an extension, queue, IVR, voicemail or external number.
    pub to: Destination,
}

/// The condition of a forwarding rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForwardWhen {
    /// Every call, without ringing the extension.
    Always,
    /// When the extension is busy.
    Busy,
    /// When nobody answers within `after`.
    NoAnswer,
    /// When no phone of the extension is registered.
    Unavailable,
}

/// An outside number that rings together with an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundNumber {
    /// The number, in E.164. Example: "+4915112345678".
    pub number: String,
    /// Start ringing it this long after the extension; absent means at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Duration>,
}
