//! Starting the SIP service: listeners, the location service restored from the store, the
//! persistence writer and the core task.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
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
    core: JoinHandle<()>,
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
        let (inbound_tx, inbound_rx) = mpsc::channel(65_536);
        let limits = ConnectionLimits {
            idle_timeout: config.tcp.idle_timeout.as_std(),
            per_source: config.tcp.max_connections_per_source,
            total: config.tcp.max_connections,
            message: Limits { max_message_size: config.max_message_size, ..Limits::default() },
        };
        let tls = match &config.tls {
            Some(tls) => Some(transport::tls_acceptor(&tls.certificate, &tls.key).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let listeners = transport::start(&specs, tls, limits, inbound_tx).await?;
        for l in &listeners.local {
            tracing::info!(transport = ?l.transport, addr = %l.addr, "SIP listening");
        }

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

        let (persist, persister) = crate::sip::persist::spawn(store);
        let local = listeners.local.clone();
        let core = SipCore::new(config.clone(), snapshot, listeners.outbox, local.clone(), location, persist)
            .map_err(anyhow::Error::msg)?;
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let core = tokio::spawn(core.run(inbound_rx, commands_rx));
        Ok(Self { handle: CoreHandle { commands: commands_tx, local: Arc::new(local) }, core, persister })
    }

    /// Stops the core and waits until pending registrations are written.
    pub async fn stop(self) {
        self.core.abort();
        let _ = self.core.await;
        drop(self.handle);
        let _ = self.persister.await;
    }
}
