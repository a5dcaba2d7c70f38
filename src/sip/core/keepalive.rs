//! OPTIONS pings to phones registered from behind NAT over UDP: they keep the NAT's
//! mapping open, so calls can reach the phone, and find phones that went away without
//! unregistering (RFC 5626 §3.5 in spirit; plain OPTIONS works with every phone).

use std::time::Instant;

use super::{BRANCH_PREFIX, SERVER, SipCore, unix_now};
use crate::sip::msg::{MessageWriter, Method};
use crate::sip::registrar::{LocationChange, Ping, RemoveReason};
use crate::sip::transport::Source;
use crate::sip::txn::{PeerTransport, TxnKey};

impl SipCore {
    /// Every location change passes here: the keep-alive schedule follows it and the store
    /// gets it.
    pub(super) fn location_changed(&mut self, change: LocationChange) {
        self.keepalive.apply(&change, unix_now());
        // A plain refresh changes nothing anyone watches: no event for it.
        let announced = match &change {
            LocationChange::Upsert { tenant, user, binding, fresh: true } => {
                Some((tenant, user, &binding.contact, true))
            }
            LocationChange::Upsert { fresh: false, .. } => None,
            LocationChange::Remove { tenant, user, contact, .. } => Some((tenant, user, contact, false)),
        };
        if let Some((tenant, aor, contact, registered)) = announced {
            self.calls.bus().publish(
                Some(tenant),
                crate::events::EventKind::RegistrationChanged {
                    aor: aor.clone(),
                    contact: contact.clone(),
                    registered,
                },
            );
        }
        self.persist_change(super::register::to_write(change));
    }

    pub(super) fn send_due_pings(&mut self, now: Instant) {
        for ping in self.keepalive.due(unix_now()) {
            self.send_ping(ping, now);
        }
    }

    fn send_ping(&mut self, ping: Ping, now: Instant) {
        let Some((listener, local)) = self
            .local
            .iter()
            .enumerate()
            .find(|(_, l)| l.transport == PeerTransport::Udp)
            .map(|(i, l)| (u16::try_from(i).unwrap_or(0), l.addr))
        else {
            return;
        };
        let id = self.tag();
        let mut w = MessageWriter::request(Method::Options, &ping.contact);
        w.header("Via", format!("SIP/2.0/UDP {local};branch={BRANCH_PREFIX}{id};rport"))
            .header("Max-Forwards", 70)
            .header("From", format!("<sip:keepalive@{}>;tag={id}", local.ip()))
            .header("To", format!("<{}>", ping.contact))
            .header("Call-ID", format!("{id}@pbx"))
            .header("CSeq", "1 OPTIONS")
            .header("User-Agent", SERVER);
        let dest = Source { transport: PeerTransport::Udp, addr: ping.dest, listener, flow: 0 };
        match self.txn.send_request(w.finish(b""), dest, now) {
            Ok(key) => {
                self.pings.insert(key, ping);
            }
            Err(e) => tracing::debug!(error = %e, "keep-alive ping not sent"),
        }
    }

    /// Any final answer, even an error, shows the phone is there.
    pub(super) fn ping_answered(&mut self, key: &TxnKey, status: Option<u16>) {
        if status.is_some_and(|s| s >= 200)
            && let Some(ping) = self.pings.remove(key)
        {
            self.keepalive.ping_ok(&ping.tenant, &ping.user, &ping.contact);
        }
    }

    pub(super) fn ping_failed(&mut self, key: &TxnKey) {
        let Some(ping) = self.pings.remove(key) else { return };
        if self.keepalive.ping_failed(&ping.tenant, &ping.user, &ping.contact) {
            tracing::info!(tenant = %ping.tenant, user = %ping.user, contact = %ping.contact, "binding removed: keep-alive pings unanswered");
            if let Some(change) =
                self.location.remove(&ping.tenant, &ping.user, &ping.contact, RemoveReason::KeepAliveFailed)
            {
                self.location_changed(change);
            }
        }
    }
}
