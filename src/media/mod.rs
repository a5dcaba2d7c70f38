//! Media: SDP offer/answer and rewriting for anchored calls. The RTP relay, codecs, DTMF,
//! players, recorders and mixers join here as calls arrive.

pub mod record;
pub mod relay;
pub mod sdp;
