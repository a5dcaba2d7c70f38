//! Media anchoring for one call: the relay session and the SDP each leg is shown.
//!
//! Exists so the call machine says "show this description to leg B" and "leg A now sends
//! from here" without knowing SDP lines. The first active audio stream is relayed; other
//! streams (video, fax) are disabled (port 0) in what we forward until the media engine
//! handles them, so no peer waits for media that cannot flow.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;

use crate::media::record::{Recorder, RecordingGuard, RecordingMeta};
use crate::media::relay::{Leg, LegConfig, Relay, RelayError, SessionHandle, SessionStats};
use crate::media::sdp::{self, OriginState, Sdp, align_payload_types, rewrite_for_relay};

pub const SDP: &str = "application/sdp";

/// The relay session of a call and the origin (o=) pbxd presents on each leg.
pub struct Anchor {
    session: SessionHandle,
    ip: IpAddr,
    origins: [OriginState; 2],
    /// What leg A offered first: payload type numbers of answers are aligned to it. `None`
    /// for a late offer (the INVITE had no SDP; the callee offers in its 2xx).
    a_offer: Option<Sdp>,
    /// The last description we sent toward leg B (a session refresh repeats it).
    pub last_to_b: Option<Bytes>,
    pub codec: String,
    /// Stops the call's recording when the anchor goes.
    recording: Option<RecordingGuard>,
}

/// Parses an SDP body; `None` for an empty or broken one.
pub fn parse(body: &[u8]) -> Option<Sdp> {
    if body.is_empty() {
        return None;
    }
    Sdp::parse(body, &sdp::Limits::default()).ok()
}

/// The relayed stream: the first active audio stream.
fn audio_index(sdp: &Sdp) -> Option<usize> {
    sdp.media.iter().position(|m| m.kind == "audio" && !m.is_rejected())
}

/// Where a description says its audio goes: RTP address and, when written, RTCP.
fn remote_of(sdp: &Sdp) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let i = audio_index(sdp)?;
    let ip = sdp.media_connection(i)?.ip()?;
    let media = sdp.media.get(i)?;
    let rtcp = media.rtcp().map(|r| {
        let at = r.connection.and_then(|(_, _, addr)| addr.parse().ok()).unwrap_or(ip);
        SocketAddr::new(at, r.port)
    });
    Some((SocketAddr::new(ip, media.port), rtcp))
}

fn index(leg: Leg) -> usize {
    match leg {
        Leg::A => 0,
        Leg::B => 1,
    }
}

impl Anchor {
    /// Opens the relay session for a call whose caller offered `offer` (none: late offer).
    pub fn open(relay: &Arc<Relay>, ip: IpAddr, offer: Option<Sdp>, seed: u64) -> Result<Anchor, RelayError> {
        let mut a = LegConfig::new(None);
        if let Some(offer) = &offer {
            if let Some((rtp, rtcp)) = remote_of(offer) {
                a.remote_rtp = Some(rtp);
                a.remote_rtcp = rtcp;
            }
            if let Some(i) = audio_index(offer) {
                a.payload_types = offer.media.get(i).map(|m| m.payload_types().collect()).unwrap_or_default();
            }
        }
        let session = relay.create_session(a, LegConfig::new(None))?;
        Ok(Anchor {
            session,
            ip,
            origins: [OriginState::new(seed & 0xffff_ffff), OriginState::new((seed >> 32) | 1)],
            a_offer: offer,
            last_to_b: None,
            codec: String::new(),
            recording: None,
        })
    }

    /// `sdp` as leg `toward` must see it: our address and that leg's port, other streams off.
    pub fn show(&mut self, mut sdp: Sdp, toward: Leg) -> Bytes {
        let relayed = audio_index(&sdp);
        let port = self.session.local_rtp(toward).port();
        let ports: Vec<u16> = (0..sdp.media.len()).map(|i| if Some(i) == relayed { port } else { 0 }).collect();
        for (i, m) in sdp.media.iter_mut().enumerate() {
            if Some(i) != relayed {
                m.port = 0;
            }
        }
        if rewrite_for_relay(&mut sdp, self.ip, &ports, &mut self.origins[index(toward)]).is_err() {
            tracing::warn!("SDP could not be anchored; forwarded with our address only");
        }
        let bytes = sdp.to_bytes();
        if toward == Leg::B {
            self.last_to_b = Some(bytes.clone());
        }
        bytes
    }

    /// An answer from leg B to leg A's offer: numbers aligned to A's, then shown to A.
    pub fn answer_to_a(&mut self, mut answer: Sdp) -> Bytes {
        if let Some(offer) = &self.a_offer {
            let maps = align_payload_types(offer, &mut answer);
            if maps.iter().any(|m| !m.is_identity()) {
                tracing::debug!("callee renumbered payload types; its RTP keeps its own numbers");
            }
        }
        self.note_codec(&answer);
        self.learn(Leg::B, &answer);
        self.show(answer, Leg::A)
    }

    /// Late offer: the callee's offer (in its 2xx), shown to A in our 2xx; A answers in its ACK.
    pub fn offer_to_a(&mut self, offer: Sdp) -> Bytes {
        self.note_codec(&offer);
        self.learn(Leg::B, &offer);
        self.show(offer, Leg::A)
    }

    /// The codec of a description: its first audio payload type.
    pub fn note_codec(&mut self, sdp: &Sdp) {
        if let Some(i) = audio_index(sdp)
            && let Some(m) = sdp.media.get(i)
            && let Some(first) = m.payload_types().next()
        {
            self.codec = m.codec(first).map(|c| c.name.into_owned()).unwrap_or_default();
        }
    }

    /// Leg `from` described where it receives and whether it holds the call.
    pub fn learn(&self, from: Leg, sdp: &Sdp) {
        if let Some((rtp, rtcp)) = remote_of(sdp)
            && !rtp.ip().is_unspecified()
        {
            let _ = self.session.update_remote(from, rtp, rtcp);
        }
        let _ = self.session.set_hold(sdp.is_hold());
    }

    /// Records both legs from now until the anchor is dropped. Only G.711 can be decoded
    /// for now; other calls are not recorded (and say so in the log).
    pub fn record(&mut self, recorder: &Recorder, meta: RecordingMeta) {
        if !["PCMU", "PCMA"].iter().any(|c| self.codec.eq_ignore_ascii_case(c)) {
            tracing::warn!(recording = %meta.id, codec = %self.codec, "only G.711 calls can be recorded yet; not recorded");
            return;
        }
        let (tap, guard) = recorder.begin(meta);
        if self.session.set_tap(Some(tap)).is_ok() {
            self.recording = Some(guard);
        }
    }

    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    pub fn session_id(&self) -> crate::media::relay::SessionId {
        self.session.id()
    }
}
