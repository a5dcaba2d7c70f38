//! How the tenant hears from pbxd: email notifications, webhooks, and API users.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SecretRef, Sha256Hex};

/// Email notifications that are not tied to one extension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Who is told when the recording quota or the node's disk runs low.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub low_disk: Vec<String>,
    /// Sender address of the tenant's emails; the node's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The tenant's own SMTP server, used instead of the node's `[email]` server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<TenantSmtp>,
}

impl Notifications {
    pub fn is_empty(&self) -> bool {
        self.low_disk.is_empty() && self.from.is_none() && self.smtp.is_none()
    }
}

/// An SMTP server of the tenant's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSmtp {
    /// Host name. Example: "smtp.acme.example".
    pub host: String,
    /// Port: 587 for STARTTLS, 465 for TLS, 25 for none.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// "starttls" (default), "tls" or "none".
    #[serde(default)]
    pub security: crate::config::daemon::SmtpSecurity,
    /// Login user, if the server wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The login password, as a reference: "env:NAME" or "file:PATH".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
}

fn default_smtp_port() -> u16 {
    587
}

/// An HTTP endpoint that receives events as signed JSON POSTs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Name shown in plans and logs. Example: "crm".
    pub name: String,
    /// The receiving URL. Example: "https://crm.acme.example/pbx".
    pub url: String,
    /// Events to send; all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventKind>,
    /// Key of the HMAC-SHA256 signature header, as a reference "env:NAME" or "file:PATH".
    pub secret: SecretRef,
}

/// Kinds of events a webhook can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    CallStarted,
    CallRinging,
    CallAnswered,
    CallTransferred,
    CallEnded,
    CallMissed,
    RegistrationChanged,
    TrunkStatus,
    RecordingReady,
    VoicemailReceived,
    ConfigApplied,
}

/// A user of the REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiUser {
    /// Name of the user or integration. Example: "crm-sync".
    pub name: String,
    /// "tenant_admin" sees the whole tenant; "employee" sees only its own extension.
    pub role: ApiRole,
    /// For employees: the extension whose calls, recordings and voicemail they see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// SHA-256 of the bearer token, from `pbxctl secret token`.
    pub token_sha256: Sha256Hex,
}

/// API roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    TenantAdmin,
    Employee,
}
