//! Call applications: IVR menus, queues, blacklists, conferences, voicemail and fax boxes,
//! and the sounds they play.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Destination, Duration, SecretRef, Sha256Hex, SoundRef, string_or_table};

/// A voice menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ivr {
    /// Name used in destinations ("ivr:NAME"). Example: "main".
    pub name: String,
    /// Conditions checked in order before the menu plays; the first that matches sends the
    /// call on without the menu.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<IvrCondition>,
    /// The greeting and menu prompt.
    pub prompt: SoundRef,
    /// Digits (or `*`, `#`) and where each sends the caller. Example: { "1" = "queue:sales" }.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, Destination>,
    /// What happens when the caller presses nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<IvrFallback>,
    /// What happens when the caller presses a key that is not an option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<IvrFallback>,
    /// Let callers dial an extension number directly from the menu.
    #[serde(default)]
    pub direct_dial: bool,
    /// Ask a web service where the call goes, before the menu plays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RoutingWebhook>,
}

/// A condition of an IVR; all given fields must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrCondition {
    /// A schedule name; prefix "!" for "while it is not active".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// A dial pattern the caller's number must match. Example: "+4930X.".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// A dial pattern the called number (the DID) must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called: Option<String>,
    /// Where the call goes when the condition matches.
    pub to: Destination,
}

/// Retry handling for no input or invalid input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrFallback {
    /// How long to wait for a key (for timeouts).
    #[serde(default = "default_ivr_wait")]
    pub after: Duration,
    /// How many times the menu is played again first.
    #[serde(default = "default_ivr_retries")]
    pub retries: u32,
    /// Played before the menu is repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<SoundRef>,
    /// Where the call goes when the retries are used up.
    pub to: Destination,
}

fn default_ivr_wait() -> Duration {
    Duration::from_secs(5)
}
fn default_ivr_retries() -> u32 {
    2
}

/// Dynamic routing by a web service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingWebhook {
    /// URL that receives the caller and called number and answers with a destination.
    pub url: String,
    /// How long to wait for the answer.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Used when the service does not answer in time or answers nonsense.
    pub fallback: Destination,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(2)
}

/// A call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Name used in destinations ("queue:NAME"). Example: "sales".
    pub name: String,
    /// An internal number that dials the queue directly; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// How the next agent is chosen.
    #[serde(default)]
    pub strategy: QueueStrategy,
    /// Agents: an extension number, or { extension = "102", priority = 2 } (1 rings first).
    pub members: Vec<QueueMember>,
    /// Music on hold while callers wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moh: Option<SoundRef>,
    /// Periodic announcements to waiting callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<QueueAnnouncements>,
    /// Longest wait before the caller goes to an overflow destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait: Option<Overflow>,
    /// How long each agent rings before the next is tried.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout: Duration,
    /// Rest time for an agent after each call.
    #[serde(default = "default_wrap_up")]
    pub wrap_up: Duration,
    /// Send a returning caller to the agent who took their last call, if it was this recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Duration>,
    /// Ask callers to rate the call after the agent hangs up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<Survey>,
    /// A key that lets a waiting caller leave the queue, and where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<QueueExit>,
}

fn default_ring_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_wrap_up() -> Duration {
    Duration::from_secs(0)
}

/// Agent selection strategies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueStrategy {
    /// All free agents at once.
    #[default]
    RingAll,
    /// The agent idle the longest.
    LongestIdle,
    /// The agent with the least talk time today.
    LeastTalkTime,
    /// The agent who took the fewest calls today.
    FewestCalls,
    /// A random free agent.
    Random,
    /// Agents in list order, every call starting from the first.
    Sequential,
    /// The lowest priority number first; agents of equal priority together.
    Priority,
}

/// A queue agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueMember {
    /// The agent's extension number.
    pub extension: String,
    /// Lower rings first with the "priority" strategy.
    #[serde(default = "default_priority")]
    pub priority: u32,
}

fn default_priority() -> u32 {
    1
}

/// A queue agent with a priority.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct QueueMemberTable {
    /// The agent's extension number.
    extension: String,
    /// Lower rings first with the "priority" strategy.
    #[serde(default = "default_priority")]
    priority: u32,
}

impl JsonSchema for QueueMember {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "QueueMember".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A queue agent: an extension number \"101\", or { extension = \"101\", priority = 2 }.",
            "anyOf": [{ "type": "string" }, generator.subschema_for::<QueueMemberTable>()]
        })
    }
}

string_or_table!(
    QueueMember,
    QueueMemberTable,
    "an extension number \"101\" or a table { extension = \"101\", priority = 2 }",
    |t: QueueMemberTable| QueueMember { extension: t.extension, priority: t.priority }
);

impl std::str::FromStr for QueueMember {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Self { extension: s.to_owned(), priority: default_priority() })
    }
}

/// Announcements to waiting callers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueAnnouncements {
    /// Interval between announcements. Example: "30s".
    pub every: Duration,
    /// Tell the caller their position.
    #[serde(default)]
    pub position: bool,
    /// Tell the caller the estimated wait.
    #[serde(default)]
    pub wait: bool,
    /// A recorded announcement played each time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<SoundRef>,
}

/// Overflow after a maximum wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    /// Longest wait. Example: "5m".
    pub after: Duration,
    /// Where the caller goes then.
    pub to: Destination,
}

/// A post-call survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    /// The question.
    pub prompt: SoundRef,
    /// Highest score a caller can key in (1 to 9).
    pub scale: u8,
}

/// Leaving a queue by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueExit {
    /// The key: a digit, `*` or `#`.
    pub digit: String,
    /// Where the caller goes.
    pub to: Destination,
}

/// Numbers refused by the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Blacklist {
    /// Name shown in plans. Example: "spam".
    pub name: String,
    /// Calls to refuse: "inbound" (callers) or "outbound" (dialled numbers).
    pub direction: Direction,
    /// Numbers or dial patterns, and "anonymous" for callers without caller ID.
    pub numbers: Vec<String>,
    /// What the refused caller gets: "busy" (486), "decline" (603), or "prompt" (a sound, then hang up).
    pub action: BlockAction,
    /// The sound for action "prompt".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<SoundRef>,
}

/// Call direction, seen from the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// The answer to a blacklisted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockAction {
    /// 486 Busy Here.
    Busy,
    /// 603 Decline.
    Decline,
    /// Play `prompt`, then hang up.
    Prompt,
}

/// A conference room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conference {
    /// Internal number of the room. Example: "800".
    pub number: String,
    /// Name of the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// PIN for participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinSecret>,
    /// PIN for moderators, who may mute others and end the conference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator_pin: Option<PinSecret>,
    /// Most participants at once.
    #[serde(default = "default_max_members")]
    pub max_members: u32,
    /// Record the conference.
    #[serde(default)]
    pub record: bool,
}

fn default_max_members() -> u32 {
    20
}

/// A PIN kept out of plaintext: `{ sha256 = "…" }` from `pbxctl secret pin`, or a reference
/// "env:NAME" / "file:PATH".
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PinSecret {
    /// SHA-256 of the PIN digits.
    Hash(PinHash),
    /// A reference to the PIN outside the file.
    Reference(SecretRef),
}

/// A hashed PIN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinHash {
    /// SHA-256 of the PIN digits, in hex.
    pub sha256: Sha256Hex,
}

string_or_table!(
    PinSecret,
    PinHash,
    "a reference \"env:NAME\" / \"file:PATH\" or a table { sha256 = \"…\" }",
    PinSecret::Hash
);

impl std::str::FromStr for PinSecret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse().map(PinSecret::Reference)
    }
}

/// A voicemail box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// Number of the box, usually the extension's. Example: "101".
    pub number: String,
    /// PIN to listen to messages by phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinSecret>,
    /// Where new messages are announced by email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Attach the recording to the email.
    #[serde(default)]
    pub attach_audio: bool,
    /// Greeting played to callers; a standard greeting when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<SoundRef>,
}

/// A fax box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaxBox {
    /// Internal number. Example: "900".
    pub number: String,
    /// Where received faxes are sent, as PDF.
    pub email: String,
}

/// An audio file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sound {
    /// Name used as "sound:NAME". Example: "welcome".
    pub name: String,
    /// WAV file, relative to the tenant file. Example: "sounds/welcome.wav".
    pub file: String,
}
