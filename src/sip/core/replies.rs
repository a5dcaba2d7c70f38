//! Stateless answers with retransmission absorption, for REGISTER and OPTIONS.
//!
//! A stateful server transaction holds its last response for 32 s (timer J, 64·T1 over
//! UDP), which at 20,000 registrations per second is over a million transactions. Like
//! Kamailio's `sl`, pbxd answers these requests statelessly and remembers only the recent
//! answers in a bounded cache: a retransmission (same transaction id, same source) gets the
//! same bytes again without being processed twice. Past the cache (it is small: memory per
//! registered phone matters more), a late retransmission is processed again, which the
//! registrar (equal CSeq) and the nonce counts (same request id) tolerate.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::msg::Message;
use crate::sip::transport::Source;

/// How long an answer is kept for retransmissions: a client whose answer was lost sends again
/// after T1 (500 ms), then 1 s, 2 s: 4 s covers three losses in a row.
const KEEP: Duration = Duration::from_secs(4);

pub struct RecentReplies {
    answers: HashMap<u64, Bytes>,
    /// Insertion order, for expiry and the bound.
    order: VecDeque<(Instant, u64)>,
    max: usize,
    /// Keyed hashing, so peers cannot aim collisions at other clients' entries.
    keys: RandomState,
}

impl RecentReplies {
    pub fn new(max: usize) -> Self {
        Self { answers: HashMap::new(), order: VecDeque::new(), max: max.max(1), keys: RandomState::new() }
    }

    /// The transaction identity of a request (RFC 3261 §17.2.3 with the §17.2.3 fallback
    /// parts, which cost nothing to add) and its source.
    pub fn request_id(&self, msg: &Message, source: &Source) -> u64 {
        let mut h = self.keys.build_hasher();
        if let Ok(via) = msg.top_via() {
            via.branch().hash(&mut h);
            via.host().hash(&mut h);
            via.port().hash(&mut h);
        }
        msg.call_id().ok().hash(&mut h);
        if let Ok(cseq) = msg.cseq() {
            cseq.seq.hash(&mut h);
        }
        msg.method().hash(&mut h);
        source.addr.hash(&mut h);
        source.flow.hash(&mut h);
        h.finish()
    }

    pub fn get(&mut self, id: u64, now: Instant) -> Option<Bytes> {
        self.expire(now);
        self.answers.get(&id).cloned()
    }

    pub fn insert(&mut self, id: u64, answer: Bytes, now: Instant) {
        self.expire(now);
        while self.answers.len() >= self.max {
            match self.order.pop_front() {
                Some((_, old)) => {
                    self.answers.remove(&old);
                }
                None => break,
            }
        }
        if self.answers.insert(id, answer).is_none() {
            self.order.push_back((now, id));
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.order.front() {
            if now.duration_since(at) < KEEP {
                break;
            }
            self.order.pop_front();
            self.answers.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_for_a_while_and_bounded() {
        let mut r = RecentReplies::new(2);
        let t0 = Instant::now();
        r.insert(1, Bytes::from_static(b"one"), t0);
        assert_eq!(r.get(1, t0 + Duration::from_secs(1)).as_deref(), Some(&b"one"[..]));
        r.insert(2, Bytes::from_static(b"two"), t0);
        r.insert(3, Bytes::from_static(b"three"), t0);
        assert_eq!(r.get(1, t0), None, "the oldest goes when full");
        assert!(r.get(3, t0).is_some());
        assert_eq!(r.get(3, t0 + KEEP), None, "and everything after KEEP");
    }
}
