//! The recorder thread: files of the recordings in progress, fed by relay taps.
//!
//! A recording is written as `<dir>/<tenant>/<YYYY>/<MM>/<DD>/<id>.wav.part` while the call
//! lasts, then its header gets the real sizes, the data is synced to disk and the file is
//! renamed to `.wav`: a `.wav` file is always complete. Audio is written one second after it
//! arrives (time for late packets); a stopped recording is closed once its last packets have
//! had time to drain from the tap.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::timeline::{FLUSH_DELAY, RATE, Timeline};
use super::{g711, wav};
use crate::media::relay::{Leg, Tap, TapPacket};

/// Packets the tap channel holds (about 20 s of one call, or 80 ms of 1,000 calls).
const CHANNEL: usize = 2_048;
/// How long a stopped recording waits for its last packets.
const STOP_GRACE: Duration = Duration::from_millis(300);
/// The most a WAV file can describe.
const MAX_DATA: u64 = u32::MAX as u64 - wav::HEADER_LEN;

/// What a recording is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordingMeta {
    /// Unique id, e.g. the call's CDR id plus a sequence number.
    pub id: String,
    pub tenant: String,
    /// The CDR of the recorded call.
    pub cdr_id: String,
    pub caller: String,
    pub callee: String,
    /// When recording started, milliseconds since the Unix epoch.
    pub start_ms: i64,
}

/// A recording that is complete on disk.
#[derive(Debug, Clone)]
pub struct Finished {
    pub meta: RecordingMeta,
    /// Relative to the recorder's directory.
    pub path: PathBuf,
    pub bytes: u64,
    pub duration_ms: i64,
}

enum Command {
    Start { key: u64, meta: RecordingMeta, origin: Instant },
    Stop { key: u64, at: Instant },
    Shutdown,
}

/// The recording thread and its channels. Dropping it closes every open recording.
pub struct Recorder {
    commands: Mutex<Sender<Command>>,
    data: SyncSender<TapPacket>,
    next_key: AtomicU64,
    dropped: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Stops its recording when dropped (the call ended or recording was turned off).
pub struct RecordingGuard {
    key: u64,
    commands: Sender<Command>,
}

impl Drop for RecordingGuard {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop { key: self.key, at: Instant::now() });
    }
}

impl Recorder {
    /// Starts the thread; recordings go under `dir`, and each finished one is sent to `done`.
    pub fn start(dir: PathBuf, done: tokio::sync::mpsc::UnboundedSender<Finished>) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(&dir)?;
        let (commands, commands_rx) = mpsc::channel();
        let (data, data_rx) = mpsc::sync_channel(CHANNEL);
        let worker = Worker {
            dir,
            done,
            commands: commands_rx,
            data: data_rx,
            open: HashMap::new(),
            scratch: Vec::new(),
            shutdown: false,
        };
        let thread = std::thread::Builder::new().name("recorder".into()).spawn(move || worker.run())?;
        Ok(Recorder {
            commands: Mutex::new(commands),
            data,
            next_key: AtomicU64::new(1),
            dropped: Arc::default(),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Opens a recording; the relay feeds it through the returned tap until the guard drops.
    pub fn begin(&self, meta: RecordingMeta) -> (Tap, RecordingGuard) {
        let key = self.next_key.fetch_add(1, Relaxed);
        let commands = self.commands.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = commands.send(Command::Start { key, meta, origin: Instant::now() });
        let tap = Tap { key, tx: self.data.clone(), dropped: Arc::clone(&self.dropped) };
        (tap, RecordingGuard { key, commands })
    }

    /// Packet copies lost because the recorder fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Finishes every open recording and stops the thread; later recordings are not written.
    pub fn shutdown(&self) {
        let _ = self.commands.lock().unwrap_or_else(|e| e.into_inner()).send(Command::Shutdown);
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Open {
    meta: RecordingMeta,
    timeline: Timeline,
    file: Option<BufWriter<File>>,
    part: PathBuf,
    relative: PathBuf,
    data_bytes: u64,
    stopped: Option<Instant>,
}

struct Worker {
    dir: PathBuf,
    done: tokio::sync::mpsc::UnboundedSender<Finished>,
    commands: Receiver<Command>,
    data: Receiver<TapPacket>,
    open: HashMap<u64, Open>,
    scratch: Vec<u8>,
    shutdown: bool,
}

impl Worker {
    fn run(mut self) {
        let mut next_flush = Instant::now();
        loop {
            match self.data.recv_timeout(Duration::from_millis(100)) {
                Ok(p) => self.packet(&p),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {}
            }
            for _ in 0..CHANNEL {
                match self.data.try_recv() {
                    Ok(p) => self.packet(&p),
                    Err(_) => break,
                }
            }
            self.commands();
            if self.shutdown {
                self.close_all();
                return;
            }
            let now = Instant::now();
            if now >= next_flush {
                self.flush(now);
                next_flush = now + Duration::from_millis(200);
            }
        }
    }

    /// Applies pending commands.
    fn commands(&mut self) {
        while let Ok(c) = self.commands.try_recv() {
            match c {
                Command::Start { key, meta, origin } => {
                    let open = self.create(meta, origin);
                    self.open.insert(key, open);
                }
                Command::Stop { key, at } => {
                    if let Some(o) = self.open.get_mut(&key) {
                        o.stopped = Some(at);
                    }
                }
                Command::Shutdown => self.shutdown = true,
            }
        }
    }

    fn create(&self, meta: RecordingMeta, origin: Instant) -> Open {
        let day = jiff::Timestamp::from_millisecond(meta.start_ms).unwrap_or_default().strftime("%Y/%m/%d").to_string();
        let relative = Path::new(&meta.tenant).join(day).join(format!("{}.wav", meta.id));
        let path = self.dir.join(&relative);
        let part = path.with_extension("wav.part");
        let file =
            path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| File::create(&part)).and_then(|f| {
                let mut w = BufWriter::with_capacity(32 * 1024, f);
                w.write_all(&wav::header(2, RATE as u32, 0))?;
                Ok(w)
            });
        let file = match file {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(recording = %meta.id, path = %part.display(), error = %e, "cannot create recording");
                None
            }
        };
        Open { meta, timeline: Timeline::new(origin), file, part, relative, data_bytes: 0, stopped: None }
    }

    fn packet(&mut self, p: &TapPacket) {
        if !self.open.contains_key(&p.key) {
            self.commands(); // its Start may still be queued
        }
        let Some(o) = self.open.get_mut(&p.key) else { return };
        let leg = match p.leg {
            Leg::A => 0,
            Leg::B => 1,
        };
        let payload = p.payload();
        match p.pt {
            0 => o.timeline.add(leg, p.ssrc, p.ts, p.at, payload.iter().map(|&b| g711::ulaw(b))),
            8 => o.timeline.add(leg, p.ssrc, p.ts, p.at, payload.iter().map(|&b| g711::alaw(b))),
            _ => {} // telephone-event, comfort noise: not audio to record
        }
    }

    /// Writes what is old enough; closes stopped recordings whose grace has passed.
    fn flush(&mut self, now: Instant) {
        let closing: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, o)| o.stopped.is_some_and(|s| now >= s + STOP_GRACE))
            .map(|(k, _)| *k)
            .collect();
        for o in self.open.values_mut() {
            let until = o.timeline.position(now.checked_sub(FLUSH_DELAY).unwrap_or(now));
            write_until(o, until, &mut self.scratch);
        }
        for key in closing {
            if let Some(o) = self.open.remove(&key) {
                self.close(o);
            }
        }
    }

    fn close_all(&mut self) {
        for (_, o) in std::mem::take(&mut self.open) {
            self.close(o);
        }
    }

    fn close(&mut self, mut o: Open) {
        let end = match o.stopped {
            Some(at) => o.timeline.position(at).max(o.timeline.written()),
            None => o.timeline.end(),
        };
        write_until(&mut o, end, &mut self.scratch);
        let Some(file) = o.file.take() else { return };
        let result = file.into_inner().map_err(|e| e.into_error()).and_then(|mut f| {
            f.seek(SeekFrom::Start(0))?;
            f.write_all(&wav::header(2, RATE as u32, o.data_bytes as u32))?;
            f.sync_data()?;
            std::fs::rename(&o.part, o.part.with_extension(""))
        });
        if let Err(e) = result {
            tracing::error!(recording = %o.meta.id, error = %e, "cannot finish recording");
            return;
        }
        if o.timeline.dropped > 0 {
            tracing::debug!(recording = %o.meta.id, late_samples = o.timeline.dropped, "late audio left out");
        }
        let duration_ms = (o.data_bytes / 4 * 1000 / RATE) as i64;
        let bytes = o.data_bytes + wav::HEADER_LEN;
        let _ = self.done.send(Finished { meta: o.meta, path: o.relative, bytes, duration_ms });
    }
}

/// Writes `o`'s audio up to sample `until` (within the WAV size limit).
fn write_until(o: &mut Open, until: u64, scratch: &mut Vec<u8>) {
    let room = (MAX_DATA - o.data_bytes) / 4;
    let until = until.min(o.timeline.written() + room);
    scratch.clear();
    o.timeline.drain_until(until, scratch);
    let Some(file) = o.file.as_mut() else { return };
    match file.write_all(scratch) {
        Ok(()) => o.data_bytes += scratch.len() as u64,
        Err(e) => {
            tracing::error!(recording = %o.meta.id, error = %e, "recording write failed; recording abandoned");
            o.file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(tap: &Tap, leg: Leg, pt: u8, ts: u32, at: Instant, byte: u8) -> TapPacket {
        let mut p = TapPacket {
            key: tap.key,
            leg,
            at,
            pt,
            ssrc: 7,
            ts,
            len: 160,
            payload: [0; crate::media::relay::tap::MAX_PAYLOAD],
        };
        p.payload[..160].fill(byte);
        p
    }

    #[test]
    fn a_recording_is_a_complete_stereo_wav_with_each_leg_on_its_side() {
        let dir = tempfile::tempdir().unwrap();
        let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
        let recorder = Recorder::start(dir.path().to_path_buf(), done_tx).unwrap();
        let meta = RecordingMeta {
            id: "c1-1".into(),
            tenant: "acme".into(),
            cdr_id: "c1".into(),
            caller: "101".into(),
            callee: "102".into(),
            start_ms: 1_790_000_000_000,
        };
        let (tap, guard) = recorder.begin(meta.clone());
        let t0 = Instant::now();
        for i in 0..50u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            tap.tx.send(packet(&tap, Leg::A, 0, i * 160, at, 0x80)).unwrap(); // µ-law loud positive
            tap.tx.send(packet(&tap, Leg::B, 8, 5000 + i * 160, at, 0x2a)).unwrap(); // A-law loud negative
            tap.tx.send(packet(&tap, Leg::B, 101, 5000 + i * 160, at, 0x00)).unwrap(); // an event: ignored
        }
        std::thread::sleep(Duration::from_millis(1000) - t0.elapsed().min(Duration::from_millis(1000)));
        drop(guard);
        let finished = done.blocking_recv().unwrap();
        assert_eq!(finished.meta, meta);
        assert_eq!(finished.path, Path::new("acme/2026/09/21/c1-1.wav"));
        let bytes = std::fs::read(dir.path().join(&finished.path)).unwrap();
        assert_eq!(bytes.len() as u64, finished.bytes);
        assert_eq!(&bytes[..4], b"RIFF");
        let data_len = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
        assert_eq!(data_len + 44, bytes.len());
        let frames: Vec<[i16; 2]> = bytes[44..]
            .chunks_exact(4)
            .map(|c| [i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])])
            .collect();
        // 50 packets of 20 ms on each leg: one second of audio, caller left, callee right.
        assert!((7_900..=8_400).contains(&frames.len()), "{} frames", frames.len());
        let loud = frames.iter().filter(|f| f[0] == 32124 && f[1] == -32256).count();
        assert!(loud >= 7_900, "{loud} frames with both legs");
        assert!(finished.duration_ms >= 990, "{}", finished.duration_ms);
        assert!(!dir.path().join("acme/2026/09/21/c1-1.wav.part").exists());
    }
}
