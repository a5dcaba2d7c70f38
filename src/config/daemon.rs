//! `pbxd.toml`: the node's own settings (listeners, storage, admin access, logging).
//! Tenants are not configured here; they arrive through `pbxctl apply`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::diag::{Diagnostic, Locator};
use super::model::{Duration, Sha256Hex};

/// pbxd's configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pbxd configuration")]
pub struct DaemonConfig {
    /// Directory for the SQLite database, recordings, voicemail and sounds.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Storage URL: "sqlite://PATH" (default: pbx.db in data_dir), "mysql://USER:PASS@HOST/DB"
    /// or "postgres://USER:PASS@HOST/DB". A password may be given as "env:NAME" in
    /// `storage_password` instead of in the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Environment variable holding the storage password, kept out of this file. Example: "PBX_DB_PASSWORD".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_password_env: Option<String>,
    /// Log filter: "error", "warn", "info", "debug", "trace", or a tracing filter such as "pbx=debug".
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Tenant files applied once, as revision 1, when the store holds no revision yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_tenants: Option<PathBuf>,
    /// How pbxctl reaches pbxd.
    #[serde(default)]
    pub admin: AdminConfig,
    /// SIP listeners and timers.
    #[serde(default)]
    pub sip: SipConfig,
    /// The RTP relay that anchors call media.
    #[serde(default)]
    pub media: MediaConfig,
    /// The reporting API (/api/v1) and Prometheus metrics (/metrics), for tenants' tools.
    #[serde(default)]
    pub api: ApiConfig,
    /// Delivery of tenants' webhooks.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Outgoing email (missed-call notices); none sends no email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailConfig>,
}

/// The SMTP server pbxd sends email through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name. Example: "smtp.example.net".
    pub smtp_host: String,
    /// Port: 587 for STARTTLS, 465 for TLS, 25 for none.
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// "starttls" (default), "tls" (implicit, port 465) or "none" (only to a relay on this host).
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login user, if the server wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Environment variable holding the password (kept out of this file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Sender address, unless the tenant sets `notifications.from`. Example: "PBX <pbx@example.net>".
    pub from: String,
}

fn default_smtp_port() -> u16 {
    587
}

/// Transport security to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// A receiver must answer within this.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Retries back off 2, 4, 8 … seconds up to this.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Duration,
    /// Events kept per webhook while its receiver is down; beyond it the oldest are dropped.
    #[serde(default = "default_max_queued")]
    pub max_queued: u64,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(300)
}
fn default_max_queued() -> u64 {
    100_000
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout: default_webhook_timeout(),
            max_backoff: default_max_backoff(),
            max_queued: default_max_queued(),
        }
    }
}

/// The reporting API. Tenants authenticate with the tokens of their `api_user`s; the node
/// operator with `operator_token_sha256`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// TCP listener, e.g. "0.0.0.0:8443"; none disables the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Serve HTTPS with this certificate; without it the API speaks plain HTTP (keep it behind
    /// a TLS proxy or on a management network then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// SHA-256 of the operator's bearer token (all tenants, /metrics), from `pbxctl secret token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_token_sha256: Option<Sha256Hex>,
    /// Requests per second per client address; more get 429.
    #[serde(default = "default_api_rate")]
    pub requests_per_second: u32,
    /// Burst above that rate.
    #[serde(default = "default_api_burst")]
    pub burst: u32,
    /// Wrong tokens an address may present at once before it is slowed to one a second (429).
    #[serde(default = "default_failed_tokens_burst")]
    pub failed_tokens_burst: u32,
}

fn default_failed_tokens_burst() -> u32 {
    10
}

fn default_api_rate() -> u32 {
    200
}
fn default_api_burst() -> u32 {
    400
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: None,
            tls: None,
            operator_token_sha256: None,
            requests_per_second: default_api_rate(),
            burst: default_api_burst(),
            failed_tokens_burst: default_failed_tokens_burst(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/pbx")
}
fn default_log_level() -> String {
    "info".to_owned()
}

/// The admin API used by pbxctl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Unix socket; access is limited by its file permissions (owner and group pbx).
    #[serde(default = "default_admin_socket")]
    pub socket: PathBuf,
    /// Optional TCP listener for remote pipelines, e.g. "127.0.0.1:8089". Needs `token_sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// SHA-256 of the bearer token accepted on the TCP listener, from `pbxctl secret token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<Sha256Hex>,
    /// Serve the TCP listener over HTTPS with this certificate (pbxctl --server https://…).
    /// Without it the listener speaks plain HTTP: keep it on loopback or a management network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
}

fn default_admin_socket() -> PathBuf {
    PathBuf::from("/run/pbx/admin.sock")
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { socket: default_admin_socket(), listen: None, token_sha256: None, tls: None }
    }
}

/// SIP settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// Listeners as "udp:ADDR:PORT", "tcp:ADDR:PORT" or "tls:ADDR:PORT".
    #[serde(default = "default_sip_listen")]
    pub listen: Vec<String>,
    /// RFC 3261 timer T1, the round-trip estimate that paces retransmissions.
    #[serde(default = "default_t1")]
    pub t1: Duration,
    /// RFC 3261 timer T2, the longest retransmission interval of non-INVITE requests.
    #[serde(default = "default_t2")]
    pub t2: Duration,
    /// RFC 3261 timer T4, how long the network may hold a message.
    #[serde(default = "default_t4")]
    pub t4: Duration,
    /// Registration lifetimes.
    #[serde(default)]
    pub registration: RegistrationConfig,
    /// Brute-force and flood protection.
    #[serde(default)]
    pub security: SecurityConfig,
    /// Stream transports (TCP, TLS).
    #[serde(default)]
    pub tcp: TcpConfig,
    /// Most SIP transactions alive at once; beyond it new requests get 503. Finished
    /// transactions linger 64*T1 (32 s by default) to absorb retransmissions, so a node
    /// taking N calls/s holds about 4*N*64*T1 of them.
    #[serde(default = "default_max_transactions")]
    pub max_transactions: usize,
    /// Largest SIP message accepted, in bytes; larger ones get 513 or are dropped.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// Certificate and key for "tls:" listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Call handling: ring time, duration limits, session timers, drain on shutdown.
    #[serde(default)]
    pub calls: CallsConfig,
    /// Monitoring of the tenants' trunks.
    #[serde(default)]
    pub trunks: TrunksConfig,
}

/// How trunks are watched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunksConfig {
    /// Interval of the OPTIONS pings to each carrier; a carrier that leaves one unanswered
    /// (32 s with the default timers) is down until it answers again.
    #[serde(default = "default_qualify_interval")]
    pub qualify_interval: Duration,
}

fn default_qualify_interval() -> Duration {
    Duration::from_secs(30)
}

impl Default for TrunksConfig {
    fn default() -> Self {
        Self { qualify_interval: default_qualify_interval() }
    }
}

/// How calls are run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    /// How long an extension rings before the caller gets 480 Temporarily Unavailable.
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout: Duration,
    /// Longest call; at this age both sides get BYE. Guards against calls nobody hangs up.
    #[serde(default = "default_max_duration")]
    pub max_duration: Duration,
    /// Session timer interval (RFC 4028) asked of both legs; zero turns session timers off.
    #[serde(default = "default_session_expires")]
    pub session_expires: Duration,
    /// Shortest session timer interval accepted (Min-SE); shorter requests get 422.
    #[serde(default = "default_min_se")]
    pub min_se: Duration,
    /// On SIGTERM, calls in progress may continue this long before they get BYE; new calls
    /// get 503 meanwhile.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout: Duration,
}

fn default_ring_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_duration() -> Duration {
    Duration::from_secs(4 * 3600)
}
fn default_session_expires() -> Duration {
    Duration::from_secs(1800)
}
fn default_min_se() -> Duration {
    Duration::from_secs(90)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(60)
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            ring_timeout: default_ring_timeout(),
            max_duration: default_max_duration(),
            session_expires: default_session_expires(),
            min_se: default_min_se(),
            drain_timeout: default_drain_timeout(),
        }
    }
}

/// The RTP relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Address the relay binds and writes into SDP; phones must reach it. Example: "203.0.113.10".
    #[serde(default = "default_media_address")]
    pub address: std::net::IpAddr,
    /// Lowest UDP port of the relay's range (even; RTP on even ports, RTCP on the next).
    #[serde(default = "default_port_min")]
    pub port_min: u16,
    /// Highest UDP port of the range. Each call takes two pairs (four ports).
    #[serde(default = "default_port_max")]
    pub port_max: u16,
    /// Relay threads; 1 on a 2-core machine, 2–4 on larger ones.
    #[serde(default = "default_media_workers")]
    pub workers: usize,
    /// A call whose RTP stops for this long (not on hold) is ended as dead.
    #[serde(default = "default_inactivity_timeout")]
    pub inactivity_timeout: Duration,
    /// Forward the RTP of calls whose legs have latched in the kernel (nftables), about ten
    /// times cheaper per packet. Needs the nft command, CAP_NET_ADMIN, an IPv4 address, and
    /// `net.ipv4.ip_forward = 1` for phones on other hosts; without them pbxd logs why and
    /// relays in userspace.
    #[serde(default)]
    pub kernel_forwarding: bool,
}

fn default_media_address() -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
}
fn default_port_min() -> u16 {
    20_000
}
fn default_port_max() -> u16 {
    29_999
}
fn default_media_workers() -> usize {
    1
}
fn default_inactivity_timeout() -> Duration {
    Duration::from_secs(60)
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            address: default_media_address(),
            port_min: default_port_min(),
            port_max: default_port_max(),
            workers: default_media_workers(),
            inactivity_timeout: default_inactivity_timeout(),
            kernel_forwarding: false,
        }
    }
}

/// A TLS server certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first. Example: "/etc/pbx/tls/fullchain.pem".
    pub certificate: PathBuf,
    /// PEM file with the private key. Example: "/etc/pbx/tls/privkey.pem".
    pub key: PathBuf,
}

fn default_sip_listen() -> Vec<String> {
    vec!["udp:0.0.0.0:5060".to_owned(), "tcp:0.0.0.0:5060".to_owned()]
}
fn default_t1() -> Duration {
    Duration::from_millis(500)
}
fn default_t2() -> Duration {
    Duration::from_secs(4)
}
fn default_t4() -> Duration {
    Duration::from_secs(5)
}
fn default_max_transactions() -> usize {
    300_000
}
fn default_max_message_size() -> usize {
    65_535
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: default_sip_listen(),
            t1: default_t1(),
            t2: default_t2(),
            t4: default_t4(),
            registration: RegistrationConfig::default(),
            security: SecurityConfig::default(),
            tcp: TcpConfig::default(),
            max_transactions: default_max_transactions(),
            max_message_size: default_max_message_size(),
            tls: None,
            calls: CallsConfig::default(),
            trunks: TrunksConfig::default(),
        }
    }
}

/// Registration lifetimes granted to phones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Shorter requests get 423 Interval Too Brief.
    #[serde(default = "default_min_expiry")]
    pub min_expiry: Duration,
    /// Longer requests are cut to this.
    #[serde(default = "default_max_expiry")]
    pub max_expiry: Duration,
    /// Granted when the phone does not ask.
    #[serde(default = "default_expiry")]
    pub default_expiry: Duration,
    /// Contacts one extension may register at once.
    #[serde(default = "default_max_contacts")]
    pub max_contacts: usize,
    /// Lifetime of a digest nonce; older ones get a new challenge with stale=true.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime: Duration,
    /// Digest algorithms offered, one challenge each, in this order. The default is MD5 only,
    /// because common clients fail outright on a SHA-256 challenge instead of skipping it
    /// (baresip 1.0 even when MD5 is offered too; SIPp when SHA-256 comes first).
    /// ["SHA-256", "MD5"] is the RFC 8760 offer for fleets that cope with it; ["SHA-256"]
    /// refuses MD5 altogether.
    #[serde(default = "default_digest_algorithms")]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Interval of OPTIONS pings to phones behind NAT over UDP, which keep their NAT
    /// binding open and find dead phones.
    #[serde(default = "default_keepalive")]
    pub keepalive_interval: Duration,
}

fn default_min_expiry() -> Duration {
    Duration::from_secs(60)
}
fn default_max_expiry() -> Duration {
    Duration::from_secs(3600)
}
fn default_expiry() -> Duration {
    Duration::from_secs(600)
}
fn default_max_contacts() -> usize {
    10
}
fn default_digest_algorithms() -> Vec<DigestAlgorithm> {
    vec![DigestAlgorithm::Md5]
}

/// A digest algorithm for SIP authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DigestAlgorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
}

fn default_nonce_lifetime() -> Duration {
    Duration::from_secs(300)
}
fn default_keepalive() -> Duration {
    Duration::from_secs(30)
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            min_expiry: default_min_expiry(),
            max_expiry: default_max_expiry(),
            default_expiry: default_expiry(),
            max_contacts: default_max_contacts(),
            nonce_lifetime: default_nonce_lifetime(),
            digest_algorithms: default_digest_algorithms(),
            keepalive_interval: default_keepalive(),
        }
    }
}

/// Like fail2ban, inside pbxd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Failed authentications from one address (or for one user) within `failure_window`
    /// before a ban.
    #[serde(default = "default_max_failures")]
    pub max_auth_failures: u32,
    /// The window in which failures are counted.
    #[serde(default = "default_failure_window")]
    pub failure_window: Duration,
    /// How long a banned address is ignored.
    #[serde(default = "default_ban_time")]
    pub ban_time: Duration,
    /// Requests per second one address may send; more are dropped.
    #[serde(default = "default_rate")]
    pub requests_per_second: u32,
    /// Burst above that rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_max_failures() -> u32 {
    10
}
fn default_failure_window() -> Duration {
    Duration::from_secs(60)
}
fn default_ban_time() -> Duration {
    Duration::from_secs(600)
}
fn default_rate() -> u32 {
    100
}
fn default_burst() -> u32 {
    200
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            max_auth_failures: default_max_failures(),
            failure_window: default_failure_window(),
            ban_time: default_ban_time(),
            requests_per_second: default_rate(),
            burst: default_burst(),
        }
    }
}

/// Limits of stream connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// A connection that sends nothing for this long is closed.
    #[serde(default = "default_idle")]
    pub idle_timeout: Duration,
    /// Open connections from one address.
    #[serde(default = "default_per_source")]
    pub max_connections_per_source: usize,
    /// Open connections in all.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_idle() -> Duration {
    Duration::from_secs(300)
}
fn default_per_source() -> usize {
    32
}
fn default_max_connections() -> usize {
    10_000
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            idle_timeout: default_idle(),
            max_connections_per_source: default_per_source(),
            max_connections: default_max_connections(),
        }
    }
}

impl DaemonConfig {
    /// Reads and checks pbxd.toml; every problem as a diagnostic.
    pub fn load(path: &std::path::Path) -> Result<Self, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic {
                file: file.clone(),
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
                help: None,
            }]
        })?;
        let mut config = Self::parse(&file, &text)?;
        config.resolve_paths(path.parent().unwrap_or(std::path::Path::new(".")));
        Ok(config)
    }

    /// Makes relative paths relative to the directory of pbxd.toml, not to wherever pbxd
    /// happened to be started.
    fn resolve_paths(&mut self, base: &std::path::Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                let joined = base.join(&*p);
                *p = std::path::absolute(&joined).unwrap_or(joined);
            }
        };
        resolve(&mut self.data_dir);
        resolve(&mut self.admin.socket);
        if let Some(dir) = &mut self.bootstrap_tenants {
            resolve(dir);
        }
        for tls in [&mut self.sip.tls, &mut self.admin.tls].into_iter().flatten() {
            resolve(&mut tls.certificate);
            resolve(&mut tls.key);
        }
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, Vec<Diagnostic>> {
        let locator = Locator::new(file, text);
        let config: Self = toml::from_str(text).map_err(|e| {
            vec![locator.at_span(
                e.span(),
                e.message().trim().to_owned(),
                Some("see schemas/pbxd.schema.json".to_owned()),
            )]
        })?;
        let mut problems = Vec::new();
        use super::diag::Seg::Key;
        if config.admin.listen.is_some() && config.admin.token_sha256.is_none() {
            problems.push(locator.at_path(
                &[Key("admin"), Key("listen")],
                "the admin TCP listener needs a token".to_owned(),
                Some("add token_sha256 from `pbxctl secret token`".to_owned()),
            ));
        }
        if let Some(listen) = &config.admin.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            problems.push(locator.at_path(
                &[Key("admin"), Key("listen")],
                format!("\"{listen}\" is not an address:port"),
                None,
            ));
        }
        if let Some(url) = &config.storage
            && !["sqlite:", "mysql:", "mariadb:", "postgres:", "postgresql:"].iter().any(|p| url.starts_with(p))
        {
            problems.push(locator.at_path(
                &[Key("storage")],
                format!("unsupported storage URL \"{url}\""),
                Some("use sqlite://, mysql:// or postgres://".to_owned()),
            ));
        }
        for (i, l) in config.sip.listen.iter().enumerate() {
            let ok = l.split_once(':').is_some_and(|(proto, addr)| {
                matches!(proto, "udp" | "tcp" | "tls") && addr.parse::<std::net::SocketAddr>().is_ok()
            });
            if !ok {
                problems.push(locator.at_path(
                    &[Key("sip"), Key("listen"), super::diag::Seg::Index(i)],
                    format!("invalid listener \"{l}\""),
                    Some("write \"udp:0.0.0.0:5060\"".to_owned()),
                ));
            }
        }
        if config.sip.listen.iter().any(|l| l.starts_with("tls:")) && config.sip.tls.is_none() {
            problems.push(locator.at_path(
                &[Key("sip"), Key("listen")],
                "a tls: listener needs a certificate".to_owned(),
                Some("add [sip.tls] with certificate and key PEM files".to_owned()),
            ));
        }
        if config.sip.registration.digest_algorithms.is_empty() {
            problems.push(locator.at_path(
                &[Key("sip"), Key("registration"), Key("digest_algorithms")],
                "no digest algorithm: no phone could authenticate".to_owned(),
                Some("use [\"SHA-256\", \"MD5\"]".to_owned()),
            ));
        }
        let reg = &config.sip.registration;
        if !(reg.min_expiry <= reg.default_expiry && reg.default_expiry <= reg.max_expiry) {
            problems.push(locator.at_path(
                &[Key("sip"), Key("registration")],
                "registration expiries must satisfy min_expiry <= default_expiry <= max_expiry".to_owned(),
                None,
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&config.log_level) {
            problems.push(locator.at_path(
                &[Key("log_level")],
                format!("invalid log level \"{}\": {e}", config.log_level),
                None,
            ));
        }
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// Where call recordings are written: `recordings` under the data directory.
    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }

    /// The storage URL with the data directory default and the password filled in.
    pub fn storage_url(&self) -> Result<String, String> {
        let url = match &self.storage {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("pbx.db").display()),
        };
        match &self.storage_password_env {
            None => Ok(url),
            Some(var) => {
                let password = std::env::var(var)
                    .map_err(|_| format!("environment variable {var} (storage_password_env) is not set"))?;
                let (scheme, rest) = url.split_once("://").ok_or("storage URL has no scheme")?;
                let (user, host) = rest.split_once('@').ok_or("storage URL needs user@host to add a password")?;
                Ok(format!("{scheme}://{user}:{}@{host}", percent_encode(&password)))
            }
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
