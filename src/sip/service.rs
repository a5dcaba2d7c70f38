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

use crate::config::daemon::SipConfig;
use crate::reconcile::RoutingSnapshot;
use crate::sip::core::{CoreHandle, SipCore, register};
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
}

impl SipService {
    pub async fn start(
        config: &SipConfig,
        snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let specs: Vec<ListenSpec> =
            config.listen.iter().map(|l| l.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?;
        let tls = match &config.tls {
            Some(tls) => Some(transport::tls_acceptor(&tls.certificate, &tls.key).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let location = restore_location(config, &store).await?;
        let (persist, persister) = crate::sip::persist::spawn(store);

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
                    let core = match SipCore::new(config, snapshot, listeners.outbox, local.clone(), location, persist)
                    {
                        Ok(core) => core,
                        Err(e) => {
                            let _ = started_tx.send(Err(anyhow::Error::msg(e)));
                            return;
                        }
                    };
                    let (commands_tx, commands_rx) = mpsc::channel(64);
                    let _ = started_tx.send(Ok(CoreHandle { commands: commands_tx, local: Arc::new(local) }));
                    tokio::select! {
                        () = core.run(inbound_rx, commands_rx) => {}
                        _ = shutdown_rx => {}
                    }
                });
            })
            .context("cannot start the SIP thread")?;
        let handle = started_rx.await.context("the SIP thread stopped during start")??;
        for l in handle.local.iter() {
            tracing::info!(listener = %l, "SIP listening");
        }
        Ok(Self { handle, shutdown, thread, persister })
    }

    /// Stops the core and waits until pending registrations are written.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        drop(self.handle);
        let _ = self.persister.await;
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
