//! The `o=` line the PBX owns on one leg, and its version rule (RFC 3264 §8).
//!
//! Exists because a B2BUA relays descriptions written by others but must present itself as
//! one stable originator per dialog: username `pbx`, one `sess-id` per leg, one address, and
//! a `sess-version` that goes up by one exactly when the description it sends changes —
//! including when the far side behind it changes (a transfer) — and stays put when a
//! re-INVITE or refresh carries the same content. It must never be shared between legs, and
//! must only stamp descriptions that are actually sent (each stamp is "the last one sent").

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use super::origin::Origin;
use super::session::Sdp;

/// Our origin on one leg of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginState {
    sess_id: u64,
    version: u64,
    address: Option<IpAddr>,
    last_content: Option<u64>,
}

impl OriginState {
    /// A leg's origin; `sess_id` should be random per leg (the caller draws it: this layer
    /// does no I/O). The first description sent carries version 1.
    pub fn new(sess_id: u64) -> OriginState {
        OriginState { sess_id, version: 1, address: None, last_content: None }
    }

    /// The session id.
    pub fn sess_id(&self) -> u64 {
        self.sess_id
    }

    /// The version of the last stamped description (1 before the first).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Writes our `o=` into `sdp`, bumping the version if anything else in it differs from
    /// the last description stamped. The address is fixed by the first stamp, as the origin
    /// must not change during a session (RFC 8866 §5.2).
    pub fn stamp(&mut self, sdp: &mut Sdp, media_addr: IpAddr) {
        let content = content_hash(sdp);
        match self.last_content {
            Some(last) if last == content => {}
            Some(_) => self.version = self.version.wrapping_add(1),
            None => {}
        }
        self.last_content = Some(content);
        let address = *self.address.get_or_insert(media_addr);
        sdp.origin = Origin::new("pbx", self.sess_id, self.version, address);
    }
}

/// A digest of everything but `o=`. A 64-bit collision would only skip one version bump.
fn content_hash(sdp: &Sdp) -> u64 {
    let mut h = DefaultHasher::new();
    (&sdp.session_name, &sdp.lines, &sdp.media).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn first_stamp_is_version_one_and_owned_by_pbx() {
        let mut state = OriginState::new(42);
        let mut sdp = parse(ASTERISK);
        state.stamp(&mut sdp, ADDR);
        assert_eq!(sdp.origin.to_string(), "pbx 42 1 IN IP4 203.0.113.1");
    }

    #[test]
    fn same_content_keeps_the_version() {
        let mut state = OriginState::new(42);
        for _ in 0..3 {
            let mut sdp = parse(ASTERISK);
            state.stamp(&mut sdp, ADDR);
            assert_eq!(sdp.origin.sess_version, 1);
        }
    }

    #[test]
    fn changed_content_bumps_the_version_by_one_each_time() {
        let mut state = OriginState::new(42);
        let mut versions = Vec::new();
        for text in [ASTERISK, BARESIP, BARESIP, ASTERISK, &ASTERISK.replace("a=sendrecv", "a=sendonly")] {
            let mut sdp = parse(text);
            state.stamp(&mut sdp, ADDR);
            versions.push(sdp.origin.sess_version);
        }
        assert_eq!(versions, [1, 2, 2, 3, 4]);
        assert_eq!(state.version(), 4);
    }

    #[test]
    fn peer_origin_changes_alone_do_not_bump() {
        let mut state = OriginState::new(7);
        let mut first = parse(ASTERISK);
        state.stamp(&mut first, ADDR);
        let mut second = parse(&ASTERISK.replace("1640995200 1640995202", "1640995200 1640995299"));
        state.stamp(&mut second, ADDR);
        assert_eq!(second.origin, first.origin);
    }

    #[test]
    fn address_is_fixed_by_the_first_stamp() {
        let mut state = OriginState::new(7);
        let mut sdp = parse(ASTERISK);
        state.stamp(&mut sdp, ADDR);
        state.stamp(&mut sdp, "2001:db8::1".parse().unwrap());
        assert_eq!(sdp.origin.to_string(), "pbx 7 1 IN IP4 203.0.113.1");
    }
}
