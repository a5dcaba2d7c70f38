//! The sans-IO monitor of one trunk: registration at the carrier (RFC 3261 §10, digest auth
//! per RFC 7616) and OPTIONS qualify pings, turned into a status (up, down, unknown).
//!
//! Exists so every path — challenge, refused credentials, refresh, carrier silence, recovery —
//! is tested in virtual time; the SIP core only sends what [`Monitor::poll_request`] gives it
//! and reports answers back. A monitor never reads the clock, never blocks, and never logs the
//! password.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::config::model::Transport;
use crate::sip::auth::{Algorithm, DigestResponse, VerifyOptions, expected_response, ha1};
use crate::sip::core::{BRANCH_PREFIX, SERVER};
use crate::sip::msg::{Message, MessageWriter, Method};

/// First retry after a failed registration; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
const NO_ANSWER: &str = "no answer from the carrier";

/// A trunk as the SIP core monitors it: its carrier's resolved address and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkSpec {
    pub tenant: String,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// The carrier's address, or why there is none (DNS failed, reserved name).
    pub dest: Result<SocketAddr, String>,
    pub register: Option<RegisterSpec>,
}

/// Registration at the carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSpec {
    pub user: String,
    /// The password, or why it could not be read.
    pub password: Result<String, String>,
    pub expiry: Duration,
}

/// What a request of a monitor was, to route its answer back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Options,
    Register,
}

/// A trunk's status, as the API, events and `pbxctl top` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrunkView {
    pub tenant: String,
    pub name: String,
    pub host: String,
    pub port: u16,
    /// udp, tcp or tls.
    pub transport: String,
    /// up (the carrier answers, and accepted our registration if the trunk registers), down,
    /// or unknown (not checked yet, or not monitored on this transport).
    pub state: String,
    /// registered, registering, failed, or none (the trunk does not register).
    pub registration: String,
    /// Why the trunk is down or not registered; empty when all is well.
    pub reason: String,
    /// Round trip of the last answered OPTIONS, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// When `state` last changed, milliseconds since the Unix epoch.
    pub since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Registration {
    None,
    Registering,
    Registered,
    Failed(String),
}

/// The challenge we answered last, so a second challenge for the same nonce means refusal.
#[derive(Debug, Clone)]
struct Answered {
    nonce: String,
}

pub struct Monitor {
    spec: TrunkSpec,
    local: SocketAddr,
    qualify_interval: Duration,
    seed: u64,
    counter: u64,
    call_id: String,
    from_tag: String,
    cseq: u32,
    registration: Registration,
    answered: Option<Answered>,
    backoff: Duration,
    next_register: Option<Instant>,
    register_in_flight: bool,
    next_options: Option<Instant>,
    options_sent: Option<Instant>,
    reachable: Option<bool>,
    rtt: Option<Duration>,
    state: &'static str,
    reason: String,
    since_ms: i64,
    changed: bool,
    outbox: VecDeque<(RequestKind, Bytes)>,
}

impl Monitor {
    /// A monitor that starts work at once: registering (then qualifying), or qualifying.
    pub fn new(spec: TrunkSpec, local: SocketAddr, qualify_interval: Duration, seed: u64, now: Instant) -> Monitor {
        let registration = if spec.register.is_some() { Registration::Registering } else { Registration::None };
        let mut m = Monitor {
            call_id: format!("{seed:016x}-trunk@pbx"),
            from_tag: format!("{:x}", seed.rotate_left(23)),
            spec,
            local,
            qualify_interval: qualify_interval.max(Duration::from_secs(1)),
            seed,
            counter: 0,
            cseq: 0,
            registration,
            answered: None,
            backoff: FIRST_BACKOFF,
            next_register: None,
            register_in_flight: false,
            next_options: None,
            options_sent: None,
            reachable: None,
            rtt: None,
            state: "unknown",
            reason: String::new(),
            since_ms: crate::store::now_ms(),
            changed: true,
            outbox: VecDeque::new(),
        };
        if let Err(why) = &m.spec.dest {
            m.reason = why.clone();
            if m.spec.register.is_some() {
                m.registration = Registration::Failed(why.clone());
            }
        } else if m.spec.transport != Transport::Udp {
            m.reason = "monitoring is over UDP only for now".into();
        } else if let Some(reg) = &m.spec.register {
            match &reg.password {
                Ok(_) => m.next_register = Some(now),
                Err(why) => {
                    m.registration = Registration::Failed(format!("password unavailable: {why}"));
                    m.next_options = Some(now);
                }
            }
        } else {
            m.next_options = Some(now);
        }
        m.update_state();
        m
    }

    pub fn spec(&self) -> &TrunkSpec {
        &self.spec
    }

    /// The next request to send to the carrier, with its destination.
    pub fn poll_request(&mut self) -> Option<(RequestKind, Bytes, SocketAddr)> {
        let dest = *self.spec.dest.as_ref().ok()?;
        self.outbox.pop_front().map(|(kind, bytes)| (kind, bytes, dest))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.next_register, self.next_options].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_register.is_some_and(|t| t <= now) && !self.register_in_flight {
            self.next_register = None;
            self.answered = None;
            self.send_register(None);
        }
        if self.next_options.is_some_and(|t| t <= now) {
            self.next_options = Some(now + self.qualify_interval);
            if self.options_sent.is_none() {
                self.options_sent = Some(now);
                let bytes = self.request(Method::Options, &[]);
                self.outbox.push_back((RequestKind::Options, bytes));
            }
        }
    }

    /// A final answer (provisional ones are ignored) to one of our requests.
    pub fn on_response(&mut self, kind: RequestKind, msg: &Message, now: Instant) {
        let Some(status) = msg.status().filter(|s| *s >= 200) else { return };
        match kind {
            RequestKind::Options => {
                // Any final answer, even 404 or 405, shows the carrier is there.
                self.rtt = self.options_sent.take().map(|t| now.saturating_duration_since(t));
                // A carrier back from silence gets our registration at once, not after backoff.
                let unanswered = self.registration == Registration::Failed(NO_ANSWER.into());
                if self.reachable == Some(false) && unanswered && !self.register_in_flight {
                    self.next_register = Some(now);
                    self.backoff = FIRST_BACKOFF;
                }
                self.reachable = Some(true);
            }
            RequestKind::Register => {
                self.register_in_flight = false;
                self.reachable = Some(true);
                self.on_register_response(status, msg, now);
            }
        }
        self.update_state();
    }

    /// No answer (timer F) or the request could not be sent.
    pub fn on_failure(&mut self, kind: RequestKind, now: Instant) {
        self.reachable = Some(false);
        match kind {
            RequestKind::Options => self.options_sent = None,
            RequestKind::Register => {
                self.register_in_flight = false;
                self.registration = Registration::Failed(NO_ANSWER.into());
                self.retry_later(now);
            }
        }
        self.update_state();
    }

    /// The view changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    pub fn view(&self) -> TrunkView {
        TrunkView {
            tenant: self.spec.tenant.clone(),
            name: self.spec.name.clone(),
            host: self.spec.host.clone(),
            port: self.spec.port,
            transport: match self.spec.transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
                Transport::Tls => "tls",
            }
            .into(),
            state: self.state.into(),
            registration: match &self.registration {
                Registration::None => "none",
                Registration::Registering => "registering",
                Registration::Registered => "registered",
                Registration::Failed(_) => "failed",
            }
            .into(),
            reason: self.reason.clone(),
            rtt_ms: self.rtt.map(|d| d.as_secs_f64() * 1000.0),
            since_ms: self.since_ms,
        }
    }

    fn on_register_response(&mut self, status: u16, msg: &Message, now: Instant) {
        match status {
            200..=299 => {
                let expires = self.granted_expiry(msg);
                self.registration = Registration::Registered;
                self.backoff = FIRST_BACKOFF;
                // Refresh well before expiry: at 85%, and never later than 32 s before it.
                let refresh = (expires * 85 / 100).min(expires.saturating_sub(Duration::from_secs(32)));
                self.next_register = Some(now + refresh.max(Duration::from_secs(5)));
                if self.next_options.is_none() {
                    self.next_options = Some(now + self.qualify_interval);
                }
            }
            401 | 407 => match self.authorization(status, msg) {
                Ok(header) => self.send_register(Some(header)),
                Err(why) => {
                    self.registration = Registration::Failed(why);
                    self.retry_later(now);
                }
            },
            423 => {
                let min =
                    msg.header_by_name("Min-Expires").and_then(|h| h.value_str().ok()?.trim().parse::<u64>().ok());
                match (min, self.spec.register.as_mut()) {
                    (Some(min), Some(reg)) if min <= 86_400 => {
                        reg.expiry = Duration::from_secs(min);
                        self.send_register(None);
                    }
                    _ => {
                        self.registration = Registration::Failed("423 without a usable Min-Expires".into());
                        self.retry_later(now);
                    }
                }
            }
            _ => {
                let reason = String::from_utf8_lossy(msg.reason().unwrap_or_default()).into_owned();
                self.registration = Registration::Failed(format!("{status} {reason}").trim().to_owned());
                self.retry_later(now);
            }
        }
    }

    /// The expiry the carrier granted our contact: its `expires` parameter, else Expires, else
    /// what we asked for.
    fn granted_expiry(&self, msg: &Message) -> Duration {
        let asked = self.spec.register.as_ref().map_or(Duration::from_secs(3600), |r| r.expiry);
        let user = self.spec.register.as_ref().map(|r| r.user.as_str());
        let ours = msg.contacts().filter_map(Result::ok).find(|c| {
            c.addr().and_then(|a| a.uri().as_sip().map(|u| u.user() == user && u.port() == Some(self.local.port())))
                == Some(true)
        });
        let secs = ours.and_then(|c| c.expires().ok().flatten()).or_else(|| msg.expires().ok().flatten());
        secs.map_or(asked, |s| Duration::from_secs(u64::from(s)))
    }

    /// The Authorization (or Proxy-Authorization) header answering a challenge.
    fn authorization(&mut self, status: u16, msg: &Message) -> Result<(&'static str, String), String> {
        let (Some(reg), header) =
            (self.spec.register.as_ref(), if status == 401 { "Authorization" } else { "Proxy-Authorization" })
        else {
            return Err("challenged but not registering".into());
        };
        let password = reg.password.as_ref().map_err(Clone::clone)?;
        let challenges: Vec<_> = if status == 401 {
            msg.www_authenticates().filter_map(Result::ok).collect()
        } else {
            msg.proxy_authenticates().filter_map(Result::ok).collect()
        };
        // Prefer SHA-256 when offered (RFC 8760), else MD5.
        let mut best: Option<(Algorithm, DigestResponse)> = None;
        for value in challenges {
            let Some(d) = value.digest() else { continue };
            let token = d.algorithm().map_or("MD5".to_owned(), |a| a.as_str().to_owned());
            let Some(algorithm) = Algorithm::from_token(&token).filter(|a| !a.is_session()) else { continue };
            if best.as_ref().is_some_and(|(b, _)| b.is_sha256() || !algorithm.is_sha256()) {
                continue;
            }
            let qop_auth = d.qop().is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
            let response = DigestResponse {
                username: reg.user.clone(),
                realm: d.realm().map(|r| r.into_owned()).unwrap_or_default(),
                nonce: d.nonce().map(|n| n.into_owned()).unwrap_or_default(),
                uri: self.request_uri(),
                response: String::new(),
                algorithm: d.algorithm().map(|_| token.clone()),
                qop: qop_auth.then(|| "auth".to_owned()),
                nc: qop_auth.then_some(1),
                cnonce: qop_auth.then(|| format!("{:016x}", self.seed ^ u64::from(self.cseq).rotate_left(40))),
                opaque: d.opaque().map(|o| o.into_owned()),
            };
            let stale = d.stale();
            if !stale && self.answered.as_ref().is_some_and(|a| a.nonce == response.nonce) {
                return Err(format!("{status}: the carrier refused our credentials"));
            }
            best = Some((algorithm, response));
        }
        let (algorithm, mut r) = best.ok_or_else(|| format!("{status} without a digest challenge we support"))?;
        let base = ha1(algorithm, &reg.user, &r.realm, password);
        let options = VerifyOptions { allow_rfc2069: true };
        r.response = expected_response(algorithm, &base, &r, "REGISTER", options).map_err(|e| e.to_string())?;
        self.answered = Some(Answered { nonce: r.nonce.clone() });
        let mut value = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\"",
            r.username, r.realm, r.nonce, r.uri, r.response
        );
        if let Some(a) = &r.algorithm {
            value.push_str(&format!(", algorithm={a}"));
        }
        if let (Some(nc), Some(cnonce)) = (r.nc, &r.cnonce) {
            value.push_str(&format!(", qop=auth, nc={nc:08x}, cnonce=\"{cnonce}\""));
        }
        if let Some(o) = &r.opaque {
            value.push_str(&format!(", opaque=\"{o}\""));
        }
        Ok((header, value))
    }

    fn retry_later(&mut self, now: Instant) {
        self.next_register = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        if self.next_options.is_none() {
            self.next_options = Some(now + self.qualify_interval);
        }
    }

    fn send_register(&mut self, auth: Option<(&'static str, String)>) {
        let Some(reg) = self.spec.register.clone() else { return };
        if auth.is_none() {
            self.registration = match self.registration {
                Registration::Registered => Registration::Registered,
                _ => Registration::Registering,
            };
        }
        let contact = format!("<sip:{}@{}>", reg.user, self.local);
        let expires = reg.expiry.as_secs().to_string();
        let mut headers = vec![("Contact", contact), ("Expires", expires)];
        if let Some((name, value)) = auth {
            headers.push((name, value));
        }
        let bytes = self.request(Method::Register, &headers);
        self.register_in_flight = true;
        self.outbox.push_back((RequestKind::Register, bytes));
    }

    fn request_uri(&self) -> String {
        format!("sip:{}:{}", self.spec.host, self.spec.port)
    }

    fn request(&mut self, method: Method<'_>, extra: &[(&str, String)]) -> Bytes {
        self.counter += 1;
        self.cseq += 1;
        let user = self.spec.register.as_ref().map_or("pbx", |r| r.user.as_str()).to_owned();
        let aor = format!("<sip:{user}@{}>", self.spec.host);
        // REGISTERs share one Call-ID (RFC 3261 §10.2.4); each OPTIONS stands alone.
        let (call_id, tag) = if method == Method::Register {
            (self.call_id.clone(), self.from_tag.clone())
        } else {
            (format!("{:016x}-{}-q@pbx", self.seed, self.counter), format!("q{:x}", self.counter))
        };
        let mut w = MessageWriter::request(method, &self.request_uri());
        w.header(
            "Via",
            format!("SIP/2.0/UDP {};branch={}t{:x}{:x};rport", self.local, BRANCH_PREFIX, self.seed, self.counter),
        )
        .header("Max-Forwards", 70)
        .header("From", format!("{aor};tag={tag}"))
        .header("To", aor)
        .header("Call-ID", call_id)
        .header("CSeq", format!("{} {}", self.cseq, method.as_str()))
        .header("User-Agent", SERVER);
        for (name, value) in extra {
            w.header(name, value);
        }
        w.finish(b"")
    }

    fn update_state(&mut self) {
        let (state, reason) = if let Err(why) = &self.spec.dest {
            ("down", why.clone())
        } else if self.spec.transport != Transport::Udp {
            ("unknown", "monitoring is over UDP only for now".to_owned())
        } else {
            match (&self.registration, self.reachable) {
                (_, Some(false)) => ("down", "the carrier does not answer".to_owned()),
                (Registration::Failed(why), _) => ("down", format!("registration failed: {why}")),
                (Registration::Registering, _) | (_, None) => ("unknown", String::new()),
                (Registration::Registered | Registration::None, Some(true)) => ("up", String::new()),
            }
        };
        if state != self.state {
            self.state = state;
            self.since_ms = crate::store::now_ms();
            self.changed = true;
        }
        if reason != self.reason {
            self.reason = reason;
            self.changed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::{Credential, verify};
    use crate::sip::msg::{Limits, parse_datagram};

    const LOCAL: &str = "127.0.0.1:5060";
    const CARRIER: &str = "127.0.0.1:5070";

    fn spec(register: bool, password: Result<&str, &str>) -> TrunkSpec {
        TrunkSpec {
            tenant: "acme".into(),
            name: "carrier".into(),
            host: "127.0.0.1".into(),
            port: 5070,
            transport: Transport::Udp,
            dest: Ok(CARRIER.parse().unwrap()),
            register: register.then(|| RegisterSpec {
                user: "acme".into(),
                password: password.map(str::to_owned).map_err(str::to_owned),
                expiry: Duration::from_secs(600),
            }),
        }
    }

    fn parse(text: String) -> Message {
        parse_datagram(Bytes::from(text), &Limits::default()).unwrap()
    }

    /// The carrier's answer to `request`.
    fn answer(request: &Message, status: &str, extra: &str) -> Message {
        let header = |name| request.header_by_name(name).unwrap().value_str().unwrap().to_owned();
        parse(format!(
            "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=c\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
            header("Via"),
            header("From"),
            header("To"),
            header("Call-ID"),
            header("CSeq")
        ))
    }

    fn next(m: &mut Monitor) -> (RequestKind, Message) {
        let (kind, bytes, dest) = m.poll_request().expect("a request");
        assert_eq!(dest, CARRIER.parse::<SocketAddr>().unwrap());
        (kind, parse(String::from_utf8(bytes.to_vec()).unwrap()))
    }

    /// The digest the monitor sent, checked by the server side's own verifier.
    fn credentials_verify(request: &Message, password: &str) -> bool {
        let auth = request.authorizations().next().unwrap().unwrap();
        let d = auth.digest().unwrap();
        let response = DigestResponse {
            username: d.username().unwrap().into_owned(),
            realm: d.realm().unwrap().into_owned(),
            nonce: d.nonce().unwrap().into_owned(),
            uri: d.uri().unwrap().into_owned(),
            response: d.response().unwrap().into_owned(),
            algorithm: d.algorithm().map(|a| a.as_str().to_owned()),
            qop: d.qop().map(|q| q.into_owned()),
            nc: d.nc().map(|n| n.unwrap()),
            cnonce: d.cnonce().map(|c| c.into_owned()),
            opaque: d.opaque().map(|o| o.into_owned()),
        };
        verify(&response, "REGISTER", &Credential::Password(password.into()))
    }

    #[test]
    fn registers_through_a_digest_challenge_then_refreshes_and_qualifies() {
        let t0 = Instant::now();
        let mut m = Monitor::new(spec(true, Ok("s3cret")), LOCAL.parse().unwrap(), Duration::from_secs(30), 7, t0);
        assert_eq!(m.view().registration, "registering");
        m.handle_timeout(t0);
        let (kind, first) = next(&mut m);
        assert_eq!(kind, RequestKind::Register);
        assert_eq!(first.request_uri_str(), Some("sip:127.0.0.1:5070"));
        assert!(first.authorizations().next().is_none());
        assert_eq!(first.expires().unwrap(), Some(600));
        assert!(m.poll_request().is_none(), "no OPTIONS before the registration");

        let challenge =
            "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n1\", qop=\"auth\", algorithm=MD5, opaque=\"o\"\r\n";
        m.on_response(RequestKind::Register, &answer(&first, "401 Unauthorized", challenge), t0);
        let (_, second) = next(&mut m);
        assert!(credentials_verify(&second, "s3cret"), "{second:?}");
        assert!(!credentials_verify(&second, "wrong"));
        assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
        assert_eq!(second.call_id().unwrap(), first.call_id().unwrap());

        let t1 = t0 + Duration::from_millis(40);
        let contact = "Contact: <sip:acme@127.0.0.1:5060>;expires=120\r\n";
        m.on_response(RequestKind::Register, &answer(&second, "200 OK", contact), t1);
        let v = m.view();
        assert_eq!((v.state.as_str(), v.registration.as_str(), v.reason.as_str()), ("up", "registered", ""));
        assert!(m.take_changed());
        // The refresh comes at 85% of the 120 s granted, and no later than 32 s before expiry.
        assert_eq!(m.poll_timeout(), Some(t1 + Duration::from_secs(30)), "the first OPTIONS");
        m.handle_timeout(t1 + Duration::from_secs(30));
        let (kind, options) = next(&mut m);
        assert_eq!((kind, options.method()), (RequestKind::Options, Some(Method::Options)));
        m.on_response(RequestKind::Options, &answer(&options, "200 OK", ""), t1 + Duration::from_millis(30_012));
        assert_eq!(m.view().rtt_ms, Some(12.0));
        m.handle_timeout(t1 + Duration::from_secs(60));
        let _ = next(&mut m); // the next OPTIONS
        m.handle_timeout(t1 + Duration::from_secs(88));
        let (kind, refresh) = next(&mut m);
        assert_eq!(kind, RequestKind::Register);
        assert!(refresh.authorizations().next().is_none(), "a fresh REGISTER, challenged again");
        assert_eq!(m.view().registration, "registered", "still registered while refreshing");
    }

    #[test]
    fn refused_credentials_mark_the_trunk_down_and_retry_with_backoff() {
        let t0 = Instant::now();
        let mut m = Monitor::new(spec(true, Ok("wrong")), LOCAL.parse().unwrap(), Duration::from_secs(30), 7, t0);
        m.handle_timeout(t0);
        let challenge = "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n1\"\r\n";
        let (_, first) = next(&mut m);
        m.on_response(RequestKind::Register, &answer(&first, "401 Unauthorized", challenge), t0);
        let (_, second) = next(&mut m);
        assert!(second.authorizations().next().unwrap().unwrap().param("qop").is_none(), "RFC 2069 challenge");
        m.on_response(RequestKind::Register, &answer(&second, "401 Unauthorized", challenge), t0);
        let v = m.view();
        assert_eq!((v.state.as_str(), v.registration.as_str()), ("down", "failed"));
        assert!(v.reason.contains("refused our credentials"), "{}", v.reason);
        assert!(m.poll_request().is_none());
        m.handle_timeout(t0 + Duration::from_secs(30));
        let (_, retry) = next(&mut m);
        assert_eq!(retry.method(), Some(Method::Register));
        // The OPTIONS ping started meanwhile and keeps telling whether the carrier is there.
        let (kind, _) = next(&mut m);
        assert_eq!(kind, RequestKind::Options);
        m.on_response(RequestKind::Register, &answer(&retry, "403 Forbidden", ""), t0 + Duration::from_secs(30));
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(60)), "next OPTIONS");
        assert!(m.view().reason.contains("403 Forbidden"), "{}", m.view().reason);
        m.handle_timeout(t0 + Duration::from_secs(60));
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(90)), "backoff doubled: 30 s, then 60 s");
    }

    #[test]
    fn a_silent_carrier_is_down_until_it_answers_again() {
        let t0 = Instant::now();
        let mut m = Monitor::new(spec(false, Ok("")), LOCAL.parse().unwrap(), Duration::from_secs(5), 7, t0);
        assert_eq!(m.view().registration, "none");
        m.handle_timeout(t0);
        let (kind, options) = next(&mut m);
        assert_eq!(kind, RequestKind::Options);
        m.on_failure(RequestKind::Options, t0 + Duration::from_secs(32));
        let v = m.view();
        assert_eq!((v.state.as_str(), v.reason.as_str()), ("down", "the carrier does not answer"));
        m.handle_timeout(t0 + Duration::from_secs(35));
        let (_, again) = next(&mut m);
        m.on_response(
            RequestKind::Options,
            &answer(&again, "405 Method Not Allowed", ""),
            t0 + Duration::from_secs(35),
        );
        assert_eq!(m.view().state, "up", "any answer shows the carrier is there");
        drop(options);
    }

    #[test]
    fn a_carrier_back_from_silence_is_registered_at_once() {
        let t0 = Instant::now();
        let mut m = Monitor::new(spec(true, Ok("pw")), LOCAL.parse().unwrap(), Duration::from_secs(5), 7, t0);
        m.handle_timeout(t0);
        let _ = next(&mut m);
        m.on_failure(RequestKind::Register, t0 + Duration::from_secs(32));
        assert_eq!(m.view().state, "down");
        m.handle_timeout(t0 + Duration::from_secs(37));
        let (kind, options) = next(&mut m);
        assert_eq!(kind, RequestKind::Options);
        m.on_response(RequestKind::Options, &answer(&options, "200 OK", ""), t0 + Duration::from_secs(37));
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(37)), "not after the 30 s backoff");
        m.handle_timeout(t0 + Duration::from_secs(37));
        let (kind, _) = next(&mut m);
        assert_eq!(kind, RequestKind::Register);
    }

    #[test]
    fn nothing_is_sent_without_an_address_and_a_missing_password_is_reported() {
        let t0 = Instant::now();
        let mut s = spec(true, Ok("x"));
        s.dest = Err("sip.carrier.example is a reserved name".into());
        let mut m = Monitor::new(s, LOCAL.parse().unwrap(), Duration::from_secs(5), 7, t0);
        m.handle_timeout(t0);
        assert!(m.poll_request().is_none());
        assert_eq!((m.view().state.as_str(), m.view().registration.as_str()), ("down", "failed"));
        assert!(m.view().reason.contains("reserved"));

        let mut m = Monitor::new(
            spec(true, Err("environment variable X is not set")),
            LOCAL.parse().unwrap(),
            Duration::from_secs(5),
            7,
            t0,
        );
        m.handle_timeout(t0);
        let (kind, _) = next(&mut m);
        assert_eq!(kind, RequestKind::Options, "only qualified");
        let v = m.view();
        assert_eq!((v.state.as_str(), v.registration.as_str()), ("down", "failed"));
        assert!(v.reason.contains("X is not set"), "{}", v.reason);
    }
}
