//! REGISTER (RFC 3261 §10.3): find the tenant by the registrar domain, authenticate the
//! extension with digest, then bind its contacts in the location service and persist the
//! change. Tenants are isolated: the domain picks the tenant, and only that tenant's
//! extensions and credentials are consulted, whatever the request says.

use std::net::IpAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Reply, SERVER, SipCore, unix_now};
use crate::config::daemon::{DigestAlgorithm, SipConfig};
use crate::sip::auth::{
    Algorithm, Authenticator, Credential, DigestResponse, NonceCounts, NonceIssuer, Outcome, Policy,
};
use crate::sip::guard::{Admission, AuthFailures, FailureConfig, RateConfig, RateLimiter};
use crate::sip::msg::{Message, ResponseBuilder, Uri};
use crate::sip::registrar::{Binding, ExpiryPolicy, LocationChange, Transport, contact_header_value};
use crate::sip::transport::Source;
use crate::sip::txn::PeerTransport;
use crate::store::{RegistrationWrite, StoredRegistration};

/// One registered contact, as `pbxctl registrations` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegistrationView {
    pub tenant: String,
    /// Address of record: extension@domain.
    pub aor: String,
    pub contact: String,
    /// Where the phone really is (the NAT's public side).
    pub source: String,
    pub transport: String,
    pub user_agent: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    pub behind_nat: bool,
}

/// How the authentication step ended.
pub(super) enum Auth {
    /// The extension proved its password.
    Passed,
    /// Send a 401 with a fresh challenge (stale=true when the nonce merely aged).
    Challenge { stale: bool },
    /// Refuse with this status.
    Refuse(u16, &'static str),
}

pub(super) fn authenticator(config: &SipConfig, seed: u64) -> Authenticator {
    let mut secret = [0u8; 32];
    for (i, chunk) in secret.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(super::random_u64() ^ (i as u64)).to_le_bytes());
    }
    let lifetime = config.registration.nonce_lifetime.as_std();
    let nonces = NonceIssuer::new(secret, lifetime).with_salt_seed(seed);
    let counts = NonceCounts::new(200_000, lifetime);
    let algorithms = config
        .registration
        .digest_algorithms
        .iter()
        .map(|a| match a {
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
            DigestAlgorithm::Md5 => Algorithm::Md5,
        })
        .collect();
    let policy = Policy { algorithms, allow_rfc2069: false, opaque: None };
    Authenticator::new(nonces, counts, policy)
}

pub(super) fn guards(config: &SipConfig) -> Result<(AuthFailures, RateLimiter), String> {
    let s = &config.security;
    let failures = AuthFailures::new(FailureConfig {
        max_failures: s.max_auth_failures,
        window: s.failure_window.as_std(),
        ban_time: s.ban_time.as_std(),
        user_max_failures: s.max_auth_failures,
        user_throttle_time: s.ban_time.as_std(),
        ..FailureConfig::default()
    })
    .map_err(|e| format!("sip.security: {e}"))?;
    let rate = RateLimiter::new(RateConfig {
        rate_per_sec: f64::from(s.requests_per_second),
        burst: s.burst,
        ..RateConfig::default()
    })
    .map_err(|e| format!("sip.security: {e}"))?;
    Ok((failures, rate))
}

fn registrar_transport(t: PeerTransport) -> Transport {
    match t {
        PeerTransport::Udp => Transport::Udp,
        PeerTransport::Tls => Transport::Tls,
        PeerTransport::Ws => Transport::Ws,
        PeerTransport::Wss => Transport::Wss,
        PeerTransport::Tcp | PeerTransport::Sctp => Transport::Tcp,
    }
}

/// Which challenge a request answers: WWW-Authenticate (a registrar, 401) or
/// Proxy-Authenticate (calls, 407).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Challenger {
    Registrar,
    Proxy,
}

/// The Digest credentials in `msg` for `realm`, as the verifier wants them.
fn digest_for_realm(msg: &Message, realm: &str, challenger: Challenger) -> Option<DigestResponse> {
    let values: Vec<_> = match challenger {
        Challenger::Registrar => msg.authorizations().collect(),
        Challenger::Proxy => msg.proxy_authorizations().collect(),
    };
    values.into_iter().filter_map(Result::ok).filter_map(|a| a.digest()).find_map(|d| {
        let got_realm = d.realm()?;
        if !got_realm.eq_ignore_ascii_case(realm) {
            return None;
        }
        Some(DigestResponse {
            username: d.username()?.into_owned(),
            realm: got_realm.into_owned(),
            nonce: d.nonce()?.into_owned(),
            uri: d.uri()?.into_owned(),
            response: d.response()?.into_owned(),
            algorithm: d.algorithm().map(|a| a.as_str().to_owned()),
            qop: d.qop().map(|q| q.into_owned()),
            nc: d.nc().and_then(Result::ok),
            cnonce: d.cnonce().map(|c| c.into_owned()),
            opaque: d.opaque().map(|o| o.into_owned()),
        })
    })
}

impl SipCore {
    pub(super) fn on_register(&mut self, key: &Reply, msg: &Message, source: Source, now: Instant) {
        let unix = unix_now();
        let snapshot = self.snapshot.borrow().clone();
        // The registrar domain (Request-URI host) picks the tenant.
        let Some(domain) = msg.request_uri().and_then(Result::ok).and_then(|uri| match uri {
            Uri::Sip(sip) => Some(sip.host().to_string().to_ascii_lowercase()),
            _ => None,
        }) else {
            return self.respond(key, msg, source, 416, now);
        };
        let Some(tenant) = snapshot.domains.get(&domain).and_then(|id| snapshot.tenants.get(id)).cloned() else {
            return self.respond_reason(key, msg, source, 404, "Not Found (domain not served here)", now);
        };
        // The address of record must be an extension of that same tenant.
        let Some((user, to_domain)) = msg.to().ok().and_then(|to| match to.uri() {
            Uri::Sip(sip) => Some((sip.user_unescaped()?.into_owned(), sip.host().to_string().to_ascii_lowercase())),
            _ => None,
        }) else {
            return self.respond_reason(key, msg, source, 400, "Bad Request (To is not a SIP address of record)", now);
        };
        if snapshot.domains.get(&to_domain) != Some(&tenant.id) {
            return self.respond_reason(key, msg, source, 403, "Forbidden (address of record in another domain)", now);
        }
        let credential = tenant.credentials.get(&user);
        match self.authenticate(msg, Challenger::Registrar, &domain, &user, credential, &source, now) {
            Auth::Passed => {}
            Auth::Challenge { stale } => {
                let challenges = self.auth.challenge(&domain, stale, credential, unix);
                let tag = self.tag();
                let mut response =
                    ResponseBuilder::new(msg, 401).source(source.addr).to_tag(&tag).header("Server", SERVER);
                for c in &challenges {
                    response = response.header("WWW-Authenticate", c);
                }
                self.send(key, source, response.build(), now);
                return;
            }
            Auth::Refuse(status, reason) => return self.respond_reason(key, msg, source, status, reason, now),
        }
        let reg = &self.config.registration;
        let policy = ExpiryPolicy {
            min: secs(reg.min_expiry.as_std()),
            default: secs(reg.default_expiry.as_std()),
            max: secs(reg.max_expiry.as_std()),
        };
        let transport = registrar_transport(source.transport);
        let flow = (source.transport != PeerTransport::Udp).then_some(source.flow);
        match self.location.register(&tenant.id, &user, msg, source.addr, transport, flow, unix, &policy) {
            Ok(outcome) => {
                for change in outcome.changes {
                    self.location_changed(change);
                }
                let contacts = contact_header_value(&outcome.bindings, unix);
                let tag = self.tag();
                let mut response = ResponseBuilder::new(msg, 200).source(source.addr).to_tag(&tag);
                if !contacts.is_empty() {
                    response = response.header("Contact", &contacts);
                }
                let bytes = response.header("Server", SERVER).build();
                self.send(key, source, bytes, now);
            }
            Err(error) => {
                let status = error.status();
                let reason = format!("{} ({error})", crate::sip::msg::reason_phrase(status));
                let tag = self.tag();
                let mut response = ResponseBuilder::new(msg, status).source(source.addr).to_tag(&tag).reason(&reason);
                if status == 423 {
                    response = response.header("Min-Expires", policy.min);
                }
                let bytes = response.header("Server", SERVER).build();
                self.send(key, source, bytes, now);
            }
        }
    }

    /// Digest authentication with brute-force accounting. An unknown extension is treated
    /// exactly like a wrong password, so answers never tell which extensions exist.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn authenticate(
        &mut self,
        msg: &Message,
        challenger: Challenger,
        realm: &str,
        user: &str,
        credential: Option<&Credential>,
        source: &Source,
        now: Instant,
    ) -> Auth {
        let unix = unix_now();
        let ip = source.addr.ip();
        if let Admission::UserThrottled { .. } = self.failures.check(ip, realm, user, now) {
            return Auth::Refuse(403, "Forbidden (too many failed attempts)");
        }
        let Some(digest) = digest_for_realm(msg, realm, challenger) else { return Auth::Challenge { stale: false } };
        if !digest.username.eq(user) {
            // Credentials of one extension never register another.
            return Auth::Refuse(403, "Forbidden (authentication user is not the address of record)");
        }
        if !digest_uri_fits(msg, &digest.uri, realm) {
            return Auth::Refuse(400, "Bad Request (digest uri does not name this registrar)");
        }
        let request_id = self.replies.request_id(msg, source);
        let method = msg.method().map_or("", |m| m.as_str());
        let outcome =
            self.auth.authenticate(&digest, method, realm, credential.unwrap_or(&self.decoy), request_id, unix);
        match outcome {
            Outcome::Authenticated(_) if credential.is_some() => {
                self.failures.record_success(ip, realm, user, now);
                Auth::Passed
            }
            Outcome::Stale => Auth::Challenge { stale: true },
            Outcome::Rejected(rejection) if !rejection.counts_as_failure() => Auth::Challenge { stale: false },
            Outcome::Authenticated(_) | Outcome::Rejected(_) => {
                let result = self.failures.record_failure(ip, realm, user, now);
                if result.source_banned {
                    tracing::warn!(%ip, realm, "source banned after repeated authentication failures");
                }
                Auth::Challenge { stale: false }
            }
        }
    }

    pub(super) fn respond_reason(
        &mut self,
        key: &Reply,
        msg: &Message,
        source: Source,
        status: u16,
        reason: &str,
        now: Instant,
    ) {
        let tag = self.tag();
        let bytes = ResponseBuilder::new(msg, status)
            .source(source.addr)
            .to_tag(&tag)
            .reason(reason)
            .header("Server", SERVER)
            .build();
        self.send(key, source, bytes, now);
    }

    pub(super) fn registrations(&self, tenant: Option<&str>) -> Vec<RegistrationView> {
        let unix = unix_now();
        let snapshot = self.snapshot.borrow().clone();
        let mut out: Vec<RegistrationView> = self
            .location
            .iter()
            .filter(|(t, _, _)| tenant.is_none_or(|want| want == *t))
            .map(|(t, user, b)| {
                let domain =
                    snapshot.tenants.get(t).and_then(|r| r.model.tenant.domains.first().cloned()).unwrap_or_default();
                RegistrationView {
                    tenant: t.to_owned(),
                    aor: format!("{user}@{domain}"),
                    contact: b.contact.clone(),
                    source: b.source.to_string(),
                    transport: b.transport.to_string(),
                    user_agent: b.user_agent.clone().unwrap_or_default(),
                    expires_in: b.remaining(unix),
                    behind_nat: b.behind_nat,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.aor, &a.contact).cmp(&(&b.tenant, &b.aor, &b.contact)));
        out
    }
}

/// RFC 3261 §22.4 wants the digest `uri` to be the Request-URI. Some clients (SIPp among
/// them) put the server's address there instead; both name this registrar, and the digest
/// covers whatever they put, so either is accepted. A URI naming another host is not.
fn digest_uri_fits(msg: &Message, digest_uri: &str, realm: &str) -> bool {
    if msg.request_uri_str().is_some_and(|r| r.eq_ignore_ascii_case(digest_uri)) {
        return true;
    }
    match Uri::parse(digest_uri) {
        Ok(Uri::Sip(sip)) => {
            let host = sip.host().to_string();
            host.eq_ignore_ascii_case(realm) || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
        }
        _ => false,
    }
}

fn secs(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// A location change as the store writes it.
pub fn to_write(change: LocationChange) -> RegistrationWrite {
    match change {
        LocationChange::Upsert { tenant, user, binding, .. } => {
            RegistrationWrite::Upsert(stored(tenant, user, &binding))
        }
        LocationChange::Remove { tenant, user, contact, .. } => {
            RegistrationWrite::Remove { tenant, aor: user, contact }
        }
    }
}

fn stored(tenant: String, aor: String, b: &Binding) -> StoredRegistration {
    StoredRegistration {
        tenant,
        aor,
        contact: b.contact.clone(),
        q_millis: i64::from(b.q_millis),
        expires_at: i64::try_from(b.expires_at).unwrap_or(i64::MAX),
        call_id: b.call_id.clone(),
        cseq: i64::from(b.cseq),
        source: b.source.to_string(),
        transport: b.transport.as_str().to_owned(),
        flow: b.flow.map_or(0, |f| i64::try_from(f).unwrap_or(0)),
        user_agent: b.user_agent.clone().unwrap_or_default(),
        registered_at: i64::try_from(b.registered_at).unwrap_or(0),
    }
}

/// A stored registration back as a binding, for the location service at startup. Stream
/// bindings are not restored: their connections died with the old process.
pub fn restored(r: &StoredRegistration) -> Option<Binding> {
    let transport = Transport::parse(&r.transport)?;
    if transport.is_stream() {
        return None;
    }
    Some(Binding {
        contact: r.contact.clone(),
        q_millis: u16::try_from(r.q_millis).unwrap_or(1000),
        expires_at: u64::try_from(r.expires_at).ok()?,
        call_id: r.call_id.clone(),
        cseq: u32::try_from(r.cseq).ok()?,
        source: r.source.parse().ok()?,
        transport,
        flow: None,
        behind_nat: false,
        user_agent: (!r.user_agent.is_empty()).then(|| r.user_agent.clone()),
        registered_at: u64::try_from(r.registered_at).unwrap_or(0),
    })
}
