//! REGISTER processing, RFC 3261 §10.3 steps 6-8: validate the Contacts, order them against
//! the stored bindings by Call-ID and CSeq, apply the expiry policy and the bounds, then
//! update the [`Location`] and report what changed.
//!
//! Exists to keep the protocol rules apart from the store's bookkeeping. Steps 1-5 (Request-
//! URI domain, Require, authentication, To → tenant and user) are the caller's, before it
//! calls [`Location::register`]. It must never apply part of a request: everything is
//! checked first and a failing request leaves the store untouched (§10.3 step 7 "the
//! update MUST be aborted"), and it must never put peer bytes into an error.

use std::net::SocketAddr;

use crate::sip::msg::{Contact, Message, ParseError, Uri};

use super::binding::{Binding, LocationChange, RemoveReason, Transport};
use super::location::{Location, Slot, removed};
use super::nat::{NatAssessment, assess};

/// How long registrations may last, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Shorter non-zero requests get 423 Interval Too Brief with `Min-Expires: min`.
    /// Example: `60`.
    pub min: u32,
    /// Used when neither the contact nor the request says. Example: `3600`.
    pub default: u32,
    /// Longer requests are shortened to this. Example: `3600`.
    pub max: u32,
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        ExpiryPolicy { min: 60, default: 3600, max: 3600 }
    }
}

/// What a successful REGISTER produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// All current bindings of the AOR, best first, for the 200 OK's Contact
    /// (format with `contact_header_value`).
    pub bindings: Vec<Binding>,
    /// What to persist, in order; empty for a query. Bindings of the AOR found past their
    /// expiry are removed (reason `Expired`) before the request is applied.
    pub changes: Vec<LocationChange>,
}

/// Why a REGISTER was refused; [`RegisterError::status`] is the response to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A header the registrar needs is missing or malformed (400).
    #[error("missing or malformed {0} header")]
    Malformed(&'static str),
    /// A Contact URI or the Call-ID is longer than `LocationLimits::max_field_len` (400).
    #[error("{0} longer than the registrar accepts")]
    TooLong(&'static str),
    /// `Contact: *` together with other contacts or without `Expires: 0` (400, §10.3 step 6).
    #[error("Contact * must be the only contact and come with Expires: 0")]
    InvalidStar,
    /// Same Call-ID as a stored binding but a CSeq not above it: a stale or reordered
    /// request (400, §10.3 step 7).
    #[error("CSeq {cseq} is not above {stored} stored for this Call-ID")]
    OutOfOrder { cseq: u32, stored: u32 },
    /// A contact asked for less than the minimum registration time (423 + Min-Expires).
    #[error("registration interval below the minimum of {min} s")]
    IntervalTooBrief { min: u32 },
    /// The AOR would exceed `LocationLimits::max_contacts_per_aor` (403).
    #[error("address of record would have more than {limit} contacts")]
    TooManyContacts { limit: usize },
    /// The store holds `LocationLimits::max_bindings` already (503).
    #[error("location service full ({limit} bindings)")]
    Full { limit: usize },
}

impl RegisterError {
    /// The SIP status to answer.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::Malformed(_)
            | RegisterError::TooLong(_)
            | RegisterError::InvalidStar
            | RegisterError::OutOfOrder { .. } => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::TooManyContacts { .. } => 403,
            RegisterError::Full { .. } => 503,
        }
    }

    /// A reason phrase more telling than the default one for the status.
    pub fn reason(&self) -> &'static str {
        match self {
            RegisterError::Malformed(_) | RegisterError::TooLong(_) => "Bad Request",
            RegisterError::InvalidStar => "Invalid Contact *",
            RegisterError::OutOfOrder { .. } => "Invalid CSeq Number",
            RegisterError::IntervalTooBrief { .. } => "Interval Too Brief",
            RegisterError::TooManyContacts { .. } => "Too Many Contacts",
            RegisterError::Full { .. } => "Service Unavailable",
        }
    }

    /// The `Min-Expires` header value a 423 must carry (RFC 3261 §20.23).
    pub fn min_expires(&self) -> Option<u32> {
        match self {
            RegisterError::IntervalTooBrief { min } => Some(*min),
            _ => None,
        }
    }

    /// A `Retry-After` value (seconds) for a 503.
    pub fn retry_after(&self) -> Option<u32> {
        matches!(self, RegisterError::Full { .. }).then_some(300)
    }
}

/// One contact of the request, checked and resolved against the policy.
struct Wanted<'a> {
    uri: Uri<'a>,
    expires: u32,
    q_millis: u16,
    nat: NatAssessment,
    /// The stored binding with an equivalent URI, if any.
    existing: Option<u64>,
}

impl Location {
    /// Processes a REGISTER for `user` of `tenant` (already authenticated) that came from
    /// `source` over `transport` (on connection `flow` for stream transports).
    /// A REGISTER without Contact is a query and changes nothing.
    #[allow(clippy::too_many_arguments)] // each is one independent fact about the request
    pub fn register(
        &mut self,
        tenant: &str,
        user: &str,
        req: &Message,
        source: SocketAddr,
        transport: Transport,
        flow: Option<u64>,
        now: u64,
        policy: &ExpiryPolicy,
    ) -> Result<RegisterOutcome, RegisterError> {
        let limits = self.limits;
        let call_id = req.call_id().map_err(|_| RegisterError::Malformed("Call-ID"))?;
        if call_id.len() > limits.max_field_len {
            return Err(RegisterError::TooLong("Call-ID"));
        }
        let cseq = req.cseq().map_err(|_| RegisterError::Malformed("CSeq"))?.seq;
        let header_expires = match req.expires() {
            Ok(e) => e,
            // RFC 4475 §3.1.2.4: an overlarge value is treated as the default.
            Err(ParseError::OutOfRange(_)) => Some(policy.default),
            Err(_) => return Err(RegisterError::Malformed("Expires")),
        };
        let mut contacts = Vec::new();
        for c in req.contacts() {
            if contacts.len() >= limits.max_contacts_per_aor {
                return Err(RegisterError::TooManyContacts { limit: limits.max_contacts_per_aor });
            }
            contacts.push(c.map_err(|_| RegisterError::Malformed("Contact"))?);
        }
        if contacts.is_empty() {
            return Ok(RegisterOutcome { bindings: self.current(tenant, user, now), changes: Vec::new() });
        }
        let key = self.key(tenant, user);
        if contacts.contains(&Contact::Star) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(RegisterError::InvalidStar);
            }
            // §10.3 step 6: every binding with this Call-ID must be older than the request.
            check_order(self.slots_of(&key).iter().map(|s| &s.binding).filter(|b| !b.is_expired(now)), call_id, cseq)?;
            let mut changes = self.expire_aor(&key, now);
            let ids: Vec<u64> = self.slots_of(&key).iter().map(|s| s.id).collect();
            changes.extend(
                ids.into_iter()
                    .filter_map(|id| self.take(&key, id).map(|b| removed(&key, b, RemoveReason::Unregistered))),
            );
            return Ok(RegisterOutcome { bindings: Vec::new(), changes });
        }

        let via = req.top_via().ok();
        // Bindings past their time but not yet expired by `expire` do not count.
        let live: Vec<&Slot> = self.slots_of(&key).iter().filter(|s| !s.binding.is_expired(now)).collect();
        let mut wanted: Vec<Wanted<'_>> = Vec::with_capacity(contacts.len());
        for c in &contacts {
            let Contact::Addr(addr) = c else { continue };
            let uri = addr.uri();
            if uri.as_str().len() > limits.max_field_len {
                return Err(RegisterError::TooLong("Contact"));
            }
            let expires = match c.expires() {
                Ok(Some(e)) => e,
                Ok(None) => header_expires.unwrap_or(policy.default),
                Err(ParseError::OutOfRange(_)) => policy.default,
                Err(_) => return Err(RegisterError::Malformed("Contact")),
            };
            if expires > 0 && expires < policy.min {
                return Err(RegisterError::IntervalTooBrief { min: policy.min });
            }
            let existing = live.iter().find(|s| same_contact(&s.binding.contact, &uri));
            if let Some(s) = existing {
                check_order([&s.binding], call_id, cseq)?;
            }
            // The same contact twice in one request: the last one wins.
            wanted.retain(|w| !same_uri(&w.uri, &uri));
            wanted.push(Wanted {
                uri,
                expires: expires.min(policy.max),
                q_millis: c.q_millis().unwrap_or(1000),
                nat: assess(via.as_ref(), &uri, source, transport),
                existing: existing.map(|s| s.id),
            });
        }

        let added = wanted.iter().filter(|w| w.existing.is_none() && w.expires > 0).count();
        let dropped = wanted.iter().filter(|w| w.existing.is_some() && w.expires == 0).count();
        if added > 0 && (live.len() + added).saturating_sub(dropped) > limits.max_contacts_per_aor {
            return Err(RegisterError::TooManyContacts { limit: limits.max_contacts_per_aor });
        }
        if added > dropped && self.len() + added - dropped > limits.max_bindings {
            return Err(RegisterError::Full { limit: limits.max_bindings });
        }

        let user_agent = req.user_agent().ok().flatten().map(|ua| truncate(ua, limits.max_user_agent_len).to_owned());
        let mut changes = self.expire_aor(&key, now);
        for w in wanted {
            if w.expires == 0 {
                if let Some(b) = w.existing.and_then(|id| self.take(&key, id)) {
                    changes.push(removed(&key, b, RemoveReason::Unregistered));
                }
                continue;
            }
            let binding = Binding {
                contact: w.uri.as_str().to_owned(),
                q_millis: w.q_millis,
                expires_at: now.saturating_add(u64::from(w.expires)),
                call_id: call_id.to_owned(),
                cseq,
                source,
                transport,
                flow,
                behind_nat: w.nat.behind_nat,
                user_agent: user_agent.clone(),
                registered_at: now,
            };
            let fresh = w.existing.and_then(|id| self.peek(&key, id)).is_none_or(|old| {
                (old.source, old.transport, old.flow) != (binding.source, binding.transport, binding.flow)
            });
            changes.push(LocationChange::Upsert {
                tenant: tenant.to_owned(),
                user: user.to_owned(),
                binding: binding.clone(),
                fresh,
            });
            self.put(&key, w.existing, binding);
        }
        Ok(RegisterOutcome { bindings: self.current(tenant, user, now), changes })
    }

    fn current(&self, tenant: &str, user: &str, now: u64) -> Vec<Binding> {
        self.lookup(tenant, user, now).into_iter().cloned().collect()
    }
}

/// §10.3 steps 6-7: a binding refreshed under the same Call-ID must not see a lower CSeq.
/// An equal CSeq is a retransmission of the request that set it (REGISTER is answered
/// statelessly, and a retransmission can outlive the cache of recent answers): applying it
/// again changes nothing, so it is accepted, as Kamailio does.
fn check_order<'b>(
    stored: impl IntoIterator<Item = &'b Binding>,
    call_id: &str,
    cseq: u32,
) -> Result<(), RegisterError> {
    match stored.into_iter().find(|b| b.call_id == call_id && cseq < b.cseq) {
        Some(b) => Err(RegisterError::OutOfOrder { cseq, stored: b.cseq }),
        None => Ok(()),
    }
}

fn same_contact(stored: &str, uri: &Uri<'_>) -> bool {
    stored == uri.as_str() || Uri::parse(stored).is_ok_and(|s| same_uri(&s, uri))
}

/// RFC 3261 §19.1.4 URI equivalence, lite: scheme, user (unescaped), password, host
/// (ignoring case), port, and the parameters that must match when either side has them.
/// Other parameters and URI headers are ignored; non-SIP URIs must match exactly.
fn same_uri(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    if a.as_str() == b.as_str() {
        return true;
    }
    let (Some(a), Some(b)) = (a.as_sip(), b.as_sip()) else { return false };
    a.is_secure() == b.is_secure()
        && a.user_unescaped() == b.user_unescaped()
        && a.password() == b.password()
        && a.host().to_string().eq_ignore_ascii_case(&b.host().to_string())
        && a.port() == b.port()
        && ["transport", "user", "ttl", "method", "maddr"].iter().all(|p| {
            match (a.params().value(p), b.params().value(p)) {
                (None, None) => true,
                (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                _ => false,
            }
        })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::super::binding::contact_header_value;
    use super::super::location::LocationLimits;
    use super::super::testutil::register;
    use super::*;

    const NOW: u64 = 1_000_000;
    const SRC: &str = "192.0.2.10:5060";

    fn reg(loc: &mut Location, call_id: &str, cseq: u32, extra: &str) -> Result<RegisterOutcome, RegisterError> {
        let m = register(call_id, cseq, extra);
        loc.register("acme", "alice", &m, SRC.parse().unwrap(), Transport::Udp, None, NOW, &ExpiryPolicy::default())
    }

    fn contacts(loc: &Location) -> Vec<(String, u64)> {
        loc.lookup("acme", "alice", NOW).iter().map(|b| (b.contact.clone(), b.remaining(NOW))).collect()
    }

    #[test]
    fn a_refresh_is_not_fresh_but_a_new_or_moved_contact_is() {
        let fresh = |out: &RegisterOutcome| {
            out.changes.iter().map(|c| matches!(c, LocationChange::Upsert { fresh: true, .. })).collect::<Vec<_>>()
        };
        let mut loc = Location::default();
        let contact = "Contact: <sip:alice@192.0.2.10:5060>\r\n";
        assert_eq!(fresh(&reg(&mut loc, "c1", 1, contact).unwrap()), [true]);
        assert_eq!(fresh(&reg(&mut loc, "c1", 2, contact).unwrap()), [false], "a refresh");
        let m = register("c1", 3, contact);
        let moved = loc
            .register(
                "acme",
                "alice",
                &m,
                "192.0.2.99:5060".parse().unwrap(),
                Transport::Udp,
                None,
                NOW,
                &ExpiryPolicy::default(),
            )
            .unwrap();
        assert_eq!(fresh(&moved), [true], "same contact from another address");
    }

    #[test]
    fn register_stores_binding_with_header_expires() {
        let mut loc = Location::default();
        let out = reg(&mut loc, "c1", 1, "Contact: <sip:alice@192.0.2.10:5060>\r\nExpires: 1800\r\n").unwrap();
        assert_eq!(out.changes.len(), 1);
        let b = &out.bindings[0];
        assert_eq!(
            (b.contact.as_str(), b.expires_at, b.cseq, b.q_millis),
            ("sip:alice@192.0.2.10:5060", NOW + 1800, 1, 1000)
        );
        assert_eq!(b.user_agent.as_deref(), Some("TestPhone/1.0"));
        assert!(!b.behind_nat);
        assert!(
            matches!(&out.changes[0], LocationChange::Upsert { tenant, user, binding, .. } if tenant == "acme" && user == "alice" && binding == b)
        );
        assert_eq!(contact_header_value(&out.bindings, NOW), "<sip:alice@192.0.2.10:5060>;expires=1800");
    }

    #[test]
    fn contact_expires_param_beats_header_and_default_applies_last() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>;expires=120, <sip:b@192.0.2.10>\r\nExpires: 600\r\n")
            .unwrap();
        reg(&mut loc, "c1", 2, "Contact: <sip:c@192.0.2.10>\r\n").unwrap();
        let mut got = contacts(&loc);
        got.sort();
        assert_eq!(
            got,
            [("sip:a@192.0.2.10".into(), 120), ("sip:b@192.0.2.10".into(), 600), ("sip:c@192.0.2.10".into(), 3600)]
        );
    }

    #[test]
    fn too_brief_is_423_with_min_expires_and_changes_nothing() {
        let mut loc = Location::default();
        let e = reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>;expires=30\r\n").unwrap_err();
        assert_eq!(e, RegisterError::IntervalTooBrief { min: 60 });
        assert_eq!((e.status(), e.min_expires()), (423, Some(60)));
        assert!(loc.is_empty());
        let e = reg(&mut loc, "c1", 2, "Contact: <sip:a@192.0.2.10>\r\nExpires: 59\r\n").unwrap_err();
        assert_eq!(e.status(), 423);
    }

    #[test]
    fn too_long_is_clamped_to_max() {
        let mut loc = Location::default();
        let out = reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>;expires=99999\r\n").unwrap();
        assert_eq!(out.bindings[0].remaining(NOW), 3600);
        // RFC 4475 §3.1.2.4: beyond 2^32-1 means the default.
        let out = reg(&mut loc, "c1", 2, "Contact: <sip:b@192.0.2.10>;expires=280297596632815\r\n").unwrap();
        assert!(out.bindings.iter().all(|b| b.remaining(NOW) == 3600));
    }

    #[test]
    fn expires_zero_removes_that_contact_only() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>\r\n").unwrap();
        let out = reg(&mut loc, "c1", 2, "Contact: <sip:a@192.0.2.10>;expires=0\r\n").unwrap();
        assert!(
            matches!(&out.changes[..], [LocationChange::Remove { contact, reason: RemoveReason::Unregistered, .. }] if contact == "sip:a@192.0.2.10")
        );
        assert_eq!(contacts(&loc), [("sip:b@192.0.2.10".into(), 3600)]);
        // Removing a contact that is not bound is fine and changes nothing.
        let out = reg(&mut loc, "c1", 3, "Contact: <sip:zz@192.0.2.10>\r\nExpires: 0\r\n").unwrap();
        assert!(out.changes.is_empty());
    }

    #[test]
    fn star_with_expires_zero_removes_all() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>\r\n").unwrap();
        reg(&mut loc, "other", 7, "Contact: <sip:c@192.0.2.11>\r\n").unwrap();
        let out = reg(&mut loc, "c1", 2, "Contact: *\r\nExpires: 0\r\n").unwrap();
        assert_eq!(out.changes.len(), 3);
        assert!(out.bindings.is_empty() && loc.is_empty());
    }

    #[test]
    fn star_must_be_alone_with_expires_zero() {
        let mut loc = Location::default();
        for extra in
            ["Contact: *\r\n", "Contact: *\r\nExpires: 10\r\n", "Contact: *, <sip:a@192.0.2.10>\r\nExpires: 0\r\n"]
        {
            let e = reg(&mut loc, "c1", 1, extra).unwrap_err();
            assert_eq!((e, e.status()), (RegisterError::InvalidStar, 400), "{extra}");
        }
    }

    #[test]
    fn star_out_of_order_aborts_everything() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 5, "Contact: <sip:a@192.0.2.10>\r\n").unwrap();
        reg(&mut loc, "c2", 1, "Contact: <sip:b@192.0.2.10>\r\n").unwrap();
        let e = reg(&mut loc, "c1", 4, "Contact: *\r\nExpires: 0\r\n").unwrap_err();
        assert_eq!(e, RegisterError::OutOfOrder { cseq: 4, stored: 5 });
        assert_eq!(loc.len(), 2);
    }

    #[test]
    fn same_call_id_needs_a_higher_cseq() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 5, "Contact: <sip:a@192.0.2.10>;expires=600\r\n").unwrap();
        let e = reg(&mut loc, "c1", 4, "Contact: <sip:a@192.0.2.10>;expires=0\r\n").unwrap_err();
        assert_eq!((e.status(), e.reason()), (400, "Invalid CSeq Number"));
        // The same request again (a retransmission) changes nothing and is answered.
        reg(&mut loc, "c1", 5, "Contact: <sip:a@192.0.2.10>;expires=600\r\n").unwrap();
        assert_eq!(loc.len(), 1);
        assert_eq!(contacts(&loc), [("sip:a@192.0.2.10".into(), 600)]);
        let out = reg(&mut loc, "c1", 6, "Contact: <sip:a@192.0.2.10>;expires=900\r\n").unwrap();
        assert_eq!((out.bindings[0].cseq, out.bindings[0].remaining(NOW)), (6, 900));
    }

    #[test]
    fn out_of_order_contact_aborts_the_whole_request() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 5, "Contact: <sip:a@192.0.2.10>\r\n").unwrap();
        let e = reg(&mut loc, "c1", 3, "Contact: <sip:new@192.0.2.10>, <sip:a@192.0.2.10>\r\n").unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(contacts(&loc).len(), 1);
    }

    #[test]
    fn different_call_id_replaces_regardless_of_cseq() {
        let mut loc = Location::default();
        reg(&mut loc, "before-reboot", 90, "Contact: <sip:a@192.0.2.10>\r\n").unwrap();
        let out = reg(&mut loc, "after-reboot", 1, "Contact: <SIP:a@192.0.2.10>;expires=300\r\n").unwrap();
        assert_eq!(out.bindings.len(), 1, "equivalent URI (scheme case) updates the binding");
        assert_eq!((out.bindings[0].call_id.as_str(), out.bindings[0].cseq), ("after-reboot", 1));
        assert_eq!(loc.len(), 1);
    }

    #[test]
    fn query_returns_bindings_and_changes_nothing() {
        let mut loc = Location::default();
        assert!(reg(&mut loc, "c1", 1, "").unwrap().bindings.is_empty());
        reg(&mut loc, "c1", 2, "Contact: <sip:a@192.0.2.10>;q=0.5, <sip:b@192.0.2.10>\r\n").unwrap();
        let out = reg(&mut loc, "c1", 3, "").unwrap();
        assert!(out.changes.is_empty());
        assert_eq!(
            contact_header_value(&out.bindings, NOW),
            "<sip:b@192.0.2.10>;expires=3600, <sip:a@192.0.2.10>;expires=3600;q=0.5"
        );
        // A query does not check ordering: it changes nothing.
        assert!(reg(&mut loc, "c1", 1, "").is_ok());
    }

    #[test]
    fn q_param_orders_lookup() {
        let mut loc = Location::default();
        reg(
            &mut loc,
            "c1",
            1,
            "Contact: <sip:low@192.0.2.10>;q=0.1, <sip:high@192.0.2.10>;q=0.9, <sip:none@192.0.2.10>\r\n",
        )
        .unwrap();
        let order: Vec<_> = contacts(&loc).into_iter().map(|(c, _)| c).collect();
        assert_eq!(order, ["sip:none@192.0.2.10", "sip:high@192.0.2.10", "sip:low@192.0.2.10"]);
    }

    #[test]
    fn per_aor_bound_refuses_with_403() {
        let mut loc = Location::new(LocationLimits { max_contacts_per_aor: 2, ..LocationLimits::default() });
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>\r\n").unwrap();
        let e = reg(&mut loc, "c1", 2, "Contact: <sip:c@192.0.2.10>\r\n").unwrap_err();
        assert_eq!((e, e.status()), (RegisterError::TooManyContacts { limit: 2 }, 403));
        // Swapping one contact for another in one request stays within the bound.
        reg(&mut loc, "c1", 3, "Contact: <sip:a@192.0.2.10>;expires=0, <sip:c@192.0.2.10>\r\n").unwrap();
        // Refreshing existing contacts at the bound is fine.
        reg(&mut loc, "c1", 4, "Contact: <sip:b@192.0.2.10>, <sip:c@192.0.2.10>\r\n").unwrap();
        let e = reg(&mut loc, "c1", 5, "Contact: <sip:x@h>, <sip:y@h>, <sip:z@h>\r\n").unwrap_err();
        assert_eq!(e.status(), 403, "more contacts in one request than the bound");
    }

    #[test]
    fn total_bound_refuses_with_503() {
        let mut loc = Location::new(LocationLimits { max_bindings: 1, ..LocationLimits::default() });
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>\r\n").unwrap();
        let e = reg(&mut loc, "c1", 2, "Contact: <sip:b@192.0.2.10>\r\n").unwrap_err();
        assert_eq!((e.status(), e.retry_after()), (503, Some(300)));
        reg(&mut loc, "c1", 3, "Contact: <sip:a@192.0.2.10>\r\n").unwrap();
    }

    #[test]
    fn malformed_and_oversized_requests_are_400() {
        let mut loc = Location::default();
        let e = reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10\r\n").unwrap_err();
        assert_eq!((e, e.status()), (RegisterError::Malformed("Contact"), 400));
        let e = reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>\r\nExpires: soon\r\n").unwrap_err();
        assert_eq!(e, RegisterError::Malformed("Expires"));
        let long = format!("Contact: <sip:{}@192.0.2.10>\r\n", "a".repeat(600));
        assert_eq!(reg(&mut loc, "c1", 1, &long).unwrap_err(), RegisterError::TooLong("Contact"));
        assert!(loc.is_empty());
    }

    #[test]
    fn nat_and_flow_are_recorded() {
        let mut loc = Location::default();
        let m = register("c1", 1, "Contact: <sip:alice@192.168.1.20:5060;transport=tcp>\r\nUser-Agent: x\r\n");
        let src = "203.0.113.9:40001".parse().unwrap();
        let out =
            loc.register("acme", "alice", &m, src, Transport::Tcp, Some(42), NOW, &ExpiryPolicy::default()).unwrap();
        let b = &out.bindings[0];
        assert!(b.behind_nat);
        assert_eq!((b.source, b.flow, b.transport), (src, Some(42), Transport::Tcp));
        assert_eq!(loc.remove_flow(42).len(), 1);
        assert!(loc.is_empty());
    }

    #[test]
    fn bindings_past_expiry_do_not_block_or_order_a_register() {
        let mut loc = Location::new(LocationLimits { max_contacts_per_aor: 1, ..LocationLimits::default() });
        let m = register("c1", 9, "Contact: <sip:old@192.0.2.10>;expires=60\r\n");
        let src = SRC.parse().unwrap();
        loc.register("acme", "alice", &m, src, Transport::Udp, None, NOW - 100, &ExpiryPolicy::default()).unwrap();
        // Not yet removed by `expire`, but its time has passed: CSeq ordering ignores it.
        let out = reg(&mut loc, "c1", 1, "Contact: <sip:old@192.0.2.10>\r\n").unwrap();
        assert!(matches!(
            &out.changes[..],
            [LocationChange::Remove { reason: RemoveReason::Expired, .. }, LocationChange::Upsert { .. }]
        ));
        assert_eq!(contacts(&loc), [("sip:old@192.0.2.10".into(), 3600)]);
        assert_eq!(loc.poll_timeout(), Some(NOW + 3600));
        // ... and so does the per-AOR bound.
        let m = register("c2", 1, "Contact: <sip:a@192.0.2.10>;expires=60\r\n");
        loc.register("acme", "bob", &m, src, Transport::Udp, None, NOW - 100, &ExpiryPolicy::default()).unwrap();
        let m = register("c2", 2, "Contact: <sip:b@192.0.2.10>\r\n");
        loc.register("acme", "bob", &m, src, Transport::Udp, None, NOW, &ExpiryPolicy::default()).unwrap();
        assert_eq!(loc.lookup("acme", "bob", NOW)[0].contact, "sip:b@192.0.2.10");
        assert_eq!(loc.len(), 2);
    }

    #[test]
    fn duplicate_contact_in_one_request_last_wins() {
        let mut loc = Location::default();
        reg(&mut loc, "c1", 1, "Contact: <sip:a@192.0.2.10>;expires=100, <sip:a@192.0.2.10>;expires=200\r\n").unwrap();
        assert_eq!(contacts(&loc), [("sip:a@192.0.2.10".into(), 200)]);
    }

    #[test]
    fn uri_equivalence_lite() {
        let eq = |a: &str, b: &str| same_contact(a, &Uri::parse(b).unwrap());
        assert!(eq("sip:a@Example.COM:5060", "sip:a@example.com:5060"));
        assert!(eq("sip:%61lice@h", "sip:alice@h"));
        assert!(eq("sip:a@h;transport=TCP", "sip:a@h;transport=tcp;ob"));
        assert!(!eq("sip:a@h", "sip:a@h:5060"));
        assert!(!eq("sip:a@h", "sip:a@h;transport=tcp"));
        assert!(!eq("sip:A@h", "sip:a@h"));
        assert!(!eq("sips:a@h", "sip:a@h"));
    }

    #[test]
    fn user_agent_is_truncated_on_a_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
