//! Call recording: the relay copies a recorded call's RTP to the [`Recorder`] thread, which
//! decodes G.711 and writes a stereo WAV (caller left, callee right) under the data directory.
//!
//! Exists apart from the relay so that recording never slows or endangers a call: the relay
//! only offers copies through a bounded channel, and disk writes, decoding and timing happen on
//! the recorder's own thread. [`timeline`] is the sans-IO part (where each sample goes).

pub mod g711;
mod recorder;
pub mod timeline;
pub mod wav;

pub use recorder::{Finished, Recorder, RecordingGuard, RecordingMeta};
