//! A copy of a session's accepted RTP, for a recorder: the relay's only way to hand media to
//! anything but the other leg.
//!
//! Exists so recording costs the relay one bounded, non-blocking channel send per packet of a
//! recorded call, and nothing on the others. A recorder that falls behind loses its own copies
//! (counted), never the call's audio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use crate::media::relay::Leg;
use crate::media::relay::rtp;

/// Most payload bytes copied per packet: 60 ms of G.711.
pub const MAX_PAYLOAD: usize = 480;

/// One RTP packet of a recorded session.
#[derive(Debug, Clone)]
pub struct TapPacket {
    /// The recording this belongs to.
    pub key: u64,
    pub leg: Leg,
    pub at: Instant,
    pub pt: u8,
    pub ssrc: u32,
    pub ts: u32,
    pub len: u16,
    pub payload: [u8; MAX_PAYLOAD],
}

impl TapPacket {
    pub fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.len).min(MAX_PAYLOAD)]
    }
}

/// Where a session's packets are copied to.
#[derive(Debug, Clone)]
pub struct Tap {
    pub key: u64,
    pub tx: SyncSender<TapPacket>,
    /// Copies the recorder had no room for.
    pub dropped: Arc<AtomicU64>,
}

impl Tap {
    /// Copies an accepted RTP packet received on `leg`; never blocks.
    pub(crate) fn offer(&self, leg: Leg, pkt: &[u8], at: Instant) {
        let (Some(h), Some(payload)) = (rtp::parse_rtp(pkt), rtp::payload(pkt)) else { return };
        let len = payload.len().min(MAX_PAYLOAD);
        let mut copy = TapPacket {
            key: self.key,
            leg,
            at,
            pt: h.pt,
            ssrc: h.ssrc,
            ts: h.ts,
            len: len as u16,
            payload: [0; MAX_PAYLOAD],
        };
        copy.payload[..len].copy_from_slice(&payload[..len]);
        if self.tx.try_send(copy).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}
