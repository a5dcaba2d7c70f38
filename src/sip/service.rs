//! Starting the SIP service: the location service restored from the store, the persistence
//! writer, and the listeners and core on a thread of their own.
//!
//! The SIP thread runs a single-threaded runtime: transports hand each message to the core
//! without waking another thread, which on this path costs more than parsing the message.
//! Storage stays on the main runtime, behind the persistence queue.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::call::CallSettings;
use crate::call::actor::CallEvent;
use crate::config::daemon::{MediaConfig, SipConfig};
use crate::events::EventBus;
use crate::media::record::Recorder;
use crate::media::relay::{PortPool, PortPoolConfig, Relay, RelayConfig, RelayEvent};
use crate::reconcile::RoutingSnapshot;
use crate::sip::core::{Calls, CoreHandle, SipCore, register};
use crate::sip::msg::Limits;
use crate::sip::registrar::{Location, LocationLimits, RestoreOutcome};
use crate::sip::transport::{self, ConnectionLimits, ListenSpec};
use crate::store::Store;

/// The running SIP service.
pub struct SipService {
    pub handle: CoreHandle,
    shutdown: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    persister: JoinHandle<()>,
    cdr_writer: JoinHandle<()>,
    recorder: Arc<Recorder>,
    recordings_writer: JoinHandle<()>,
    pub relay: Arc<Relay>,
}

impl SipService {
    pub async fn start(
        config: &SipConfig,
        media: &MediaConfig,
        snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
        store: Store,
        bus: EventBus,
        recordings_dir: std::path::PathBuf,
    ) -> anyhow::Result<Self> {
        let specs: Vec<ListenSpec> =
            config.listen.iter().map(|l| l.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?;
        let tls = match &config.tls {
            Some(tls) => Some(transport::tls_acceptor(&tls.certificate, &tls.key).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let location = restore_location(config, &store).await?;
        let (persist, persister) = crate::sip::persist::spawn(store.clone());
        let relay = Arc::new(start_relay(media)?);
        let (recorder, recordings_writer) =
            crate::call::recordings::spawn(recordings_dir.clone(), store.clone(), snapshot.clone(), bus.clone())
                .with_context(|| format!("cannot start the recorder in {}", recordings_dir.display()))?;
        let (cdrs, cdr_writer) = crate::call::cdr::spawn(store);
        let (call_events_tx, call_events_rx) = mpsc::unbounded_channel();
        forward_relay_events(&relay, call_events_tx.clone())?;
        let calls = Calls::new(
            call_events_tx,
            cdrs,
            Arc::clone(&relay),
            Some(Arc::clone(&recorder)),
            media.address,
            call_settings(config),
            bus,
        );
        let relay_for_handle = Arc::clone(&relay);
        let calls_for_handle = calls.subscribe();
        let snapshot_for_trunks = snapshot.clone();

        let (started_tx, started_rx) = oneshot::channel();
        let (shutdown, shutdown_rx) = oneshot::channel();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name("pbx-sip".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started_tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let (inbound_tx, inbound_rx) = mpsc::channel(65_536);
                    let limits = ConnectionLimits {
                        idle_timeout: config.tcp.idle_timeout.as_std(),
                        per_source: config.tcp.max_connections_per_source,
                        total: config.tcp.max_connections,
                        message: Limits { max_message_size: config.max_message_size, ..Limits::default() },
                    };
                    let listeners = match transport::start(&specs, tls, limits, inbound_tx).await {
                        Ok(listeners) => listeners,
                        Err(e) => {
                            let _ = started_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let local = listeners.local.clone();
                    let core =
                        match SipCore::new(config, snapshot, listeners.outbox, local.clone(), location, persist, calls)
                        {
                            Ok(core) => core,
                            Err(e) => {
                                let _ = started_tx.send(Err(anyhow::Error::msg(e)));
                                return;
                            }
                        };
                    let (commands_tx, commands_rx) = mpsc::channel(64);
                    let _ = started_tx.send(Ok(CoreHandle {
                        commands: commands_tx,
                        local: Arc::new(local),
                        relay: relay_for_handle,
                        calls: calls_for_handle,
                        trunks: core.subscribe_trunks(),
                    }));
                    tokio::select! {
                        () = core.run(inbound_rx, commands_rx, call_events_rx) => {}
                        _ = shutdown_rx => {}
                    }
                });
            })
            .context("cannot start the SIP thread")?;
        let handle = started_rx.await.context("the SIP thread stopped during start")??;
        for l in handle.local.iter() {
            tracing::info!(listener = %l, "SIP listening");
        }
        crate::trunk::resolver::spawn(snapshot_for_trunks, handle.commands.clone());
        Ok(Self { handle, shutdown, thread, persister, cdr_writer, recorder, recordings_writer, relay })
    }

    /// Refuses new calls, lets calls in progress run for `grace`, then hangs them up; returns
    /// once none is left.
    pub async fn drain(&self, grace: std::time::Duration) {
        let (done, wait) = oneshot::channel();
        if self.handle.commands.send(crate::sip::core::CoreCommand::Drain { grace, done }).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops the core and waits until pending registrations are written.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        drop(self.handle);
        let _ = self.persister.await;
        let _ = self.cdr_writer.await;
        // The calls are gone: closing the recorder finishes any recording still open, and the
        // writer stores it before it stops.
        let recorder = self.recorder;
        let _ = tokio::task::spawn_blocking(move || recorder.shutdown()).await;
        let _ = self.recordings_writer.await;
    }
}

/// The location service as the store left it: unexpired UDP bindings.
async fn restore_location(config: &SipConfig, store: &Store) -> anyhow::Result<Location> {
    let mut location = Location::new(LocationLimits {
        max_contacts_per_aor: config.registration.max_contacts,
        ..LocationLimits::default()
    });
    let now = crate::store::now_ms() / 1000;
    let mut restored = 0;
    for row in store.load_registrations(now).await? {
        if let Some(binding) = register::restored(&row)
            && location.restore(&row.tenant, &row.aor, binding, u64::try_from(now).unwrap_or(0))
                == RestoreOutcome::Stored
        {
            restored += 1;
        }
    }
    tracing::info!(restored, "registrations restored");
    Ok(location)
}

fn start_relay(media: &MediaConfig) -> anyhow::Result<Relay> {
    let pool = PortPool::new(PortPoolConfig::new(media.address, media.port_min..=media.port_max))
        .map_err(|e| anyhow::anyhow!("media port range {}-{}: {e}", media.port_min, media.port_max))?;
    // Two pairs (four sockets) per session, within both the port range and the open files
    // this process may have (a thousand kept for SIP, storage and the APIs).
    let by_files = open_files_limit().map_or(usize::MAX, |n| n.saturating_sub(1024) / 4);
    let max_sessions = (pool.capacity() / 2).min(by_files).max(1);
    if max_sessions < pool.capacity() / 2 {
        tracing::warn!(max_sessions, "the open files limit caps the relay below its port range; raise LimitNOFILE");
    }
    let config = RelayConfig {
        workers: media.workers,
        inactivity_timeout: media.inactivity_timeout.as_std(),
        max_sessions,
        kernel_forwarding: media.kernel_forwarding,
        ..RelayConfig::default()
    };
    Relay::new(config, pool).map_err(|e| anyhow::anyhow!("RTP relay: {e}"))
}

/// The soft limit of open files, from /proc/self/limits.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Relay events come from its threads on a std channel; a small thread hands them to the core.
fn forward_relay_events(relay: &Relay, to_core: mpsc::UnboundedSender<CallEvent>) -> anyhow::Result<()> {
    let Some(events) = relay.events() else { return Ok(()) };
    std::thread::Builder::new()
        .name("rtp-events".to_owned())
        .spawn(move || {
            while let Ok(event) = events.recv() {
                match event {
                    RelayEvent::Inactive { session, .. } => {
                        if to_core.send(CallEvent::MediaInactive(session)).is_err() {
                            return;
                        }
                    }
                    RelayEvent::Failed { session, reason } => {
                        tracing::error!(session = session.0, reason, "relay session failed");
                    }
                }
            }
        })
        .context("cannot start the relay event thread")?;
    Ok(())
}

fn call_settings(config: &SipConfig) -> CallSettings {
    let c = &config.calls;
    CallSettings {
        ring_timeout: c.ring_timeout.as_std(),
        max_duration: c.max_duration.as_std(),
        session_expires: c.session_expires.as_std(),
        min_se: c.min_se.as_std(),
        t1: config.t1.as_std(),
        t2: config.t2.as_std(),
    }
}
