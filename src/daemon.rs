//! Starting and stopping pbxd: storage, the first revision, the admin listeners, signals.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::{TcpListener, UnixListener};

use crate::api::admin;
use crate::config::daemon::DaemonConfig;
use crate::config::load::read_sources;
use crate::config::load_tenants;
use crate::reconcile::Reconciler;
use crate::sip::service::SipService;
use crate::store::{DesiredState, Store, TenantDoc};

/// Runs pbxd until SIGTERM or SIGINT.
pub async fn run(config: DaemonConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let url = config.storage_url().map_err(anyhow::Error::msg)?;
    let store = Store::open(&url).await.context("cannot open storage")?;
    bootstrap(&store, &config).await?;
    let reconciler = Reconciler::start(store).await.context("cannot load the running revision")?;
    let snapshot = reconciler.snapshot();
    tracing::info!(revision = snapshot.revision_number(), tenants = snapshot.tenants.len(), "desired state loaded");

    let bus = crate::events::EventBus::new();
    let sip = SipService::start(
        &config.sip,
        &config.media,
        reconciler.subscribe_snapshots(),
        reconciler.store().clone(),
        bus.clone(),
        config.recordings_dir(),
    )
    .await
    .context("cannot start SIP")?;

    forward_config_events(&reconciler, &bus);
    crate::mail::spawn(config.email.clone(), reconciler.subscribe_snapshots(), &bus).context("[email]")?;
    let webhooks = crate::webhook::Dispatcher::start(
        reconciler.store().clone(),
        reconciler.subscribe_snapshots(),
        &bus,
        config.webhooks.clone(),
    );
    if let Some(addr) = &config.api.listen {
        start_api(&config, addr, reconciler.clone(), Some(sip.handle.clone()), bus.clone()).await?;
    }

    let socket = &config.admin.socket;
    let unix = bind_socket(socket)?;
    tracing::info!(socket = %socket.display(), "admin API listening");
    let unix_server =
        axum::serve(unix, admin::router(reconciler.clone(), Some(sip.handle.clone()), Some(bus.clone()), None))
            .with_graceful_shutdown(shutdown_signal());
    let tcp_server = match &config.admin.listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            let token = config.admin.token_sha256.as_ref().map(|t| t.0.clone());
            let router = admin::router(reconciler.clone(), Some(sip.handle.clone()), Some(bus.clone()), token);
            match &config.admin.tls {
                Some(tls) => {
                    let acceptor = crate::sip::transport::tls_acceptor(&tls.certificate, &tls.key)
                        .map_err(anyhow::Error::msg)
                        .context("admin TLS")?;
                    tracing::info!(%addr, "admin API listening on HTTPS");
                    tokio::spawn(crate::api::https::serve(listener, acceptor, router));
                    None
                }
                None => {
                    tracing::info!(%addr, "admin API listening on HTTP");
                    Some(axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()))
                }
            }
        }
        None => None,
    };
    let result = match tcp_server {
        Some(tcp) => tokio::try_join!(async { unix_server.await }, async { tcp.await }).map(drop),
        None => unix_server.await,
    };
    let _ = std::fs::remove_file(socket);
    sip.drain(config.sip.calls.drain_timeout.as_std()).await;
    sip.stop().await;
    webhooks.stop().await;
    reconciler.store().close().await;
    tracing::info!("pbxd stopped");
    result.context("admin API failed")
}

fn bind_socket(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        // A socket left by a killed pbxd; a live one would answer.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another pbxd is serving {}", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Applies the bootstrap tenants as revision 1 when the store holds no revision.
async fn bootstrap(store: &Store, config: &DaemonConfig) -> anyhow::Result<()> {
    let Some(dir) = &config.bootstrap_tenants else { return Ok(()) };
    if store.head().await?.is_some() {
        return Ok(());
    }
    let (sources, problems) = read_sources(std::slice::from_ref(dir));
    if !problems.is_empty() {
        bail!("bootstrap tenants: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }
    let tenants = load_tenants(sources, true).map_err(|problems| {
        anyhow::anyhow!(
            "bootstrap tenants are invalid:\n{}",
            problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        )
    })?;
    let state = DesiredState {
        tenants: tenants
            .into_iter()
            .map(|t| (t.source.id, TenantDoc { file: t.source.file, text: t.source.text }))
            .collect(),
    };
    let revision = store.append(None, "bootstrap", &format!("bootstrap from {}", dir.display()), &state).await?;
    tracing::info!(revision = revision.number, tenants = state.tenants.len(), "bootstrap tenants applied");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
}

/// Tenant revisions applied become `config_applied` events, one per tenant.
fn forward_config_events(reconciler: &Arc<Reconciler>, bus: &crate::events::EventBus) {
    let mut rx = reconciler.subscribe_events();
    let bus = bus.clone();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(crate::reconcile::ConfigEvent::TenantApplied { tenant, revision }) => {
                    bus.publish(Some(&tenant), crate::events::EventKind::ConfigApplied { revision });
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// The reporting API on its own listener (HTTP, or HTTPS with `[api.tls]`).
async fn start_api(
    config: &DaemonConfig,
    addr: &str,
    reconciler: Arc<Reconciler>,
    sip: Option<crate::sip::core::CoreHandle>,
    bus: crate::events::EventBus,
) -> anyhow::Result<()> {
    use crate::api::v1;
    let api = &config.api;
    let auth = v1::Auth::new(
        api.operator_token_sha256.as_ref().map(|t| t.0.clone()),
        api.requests_per_second,
        api.burst,
        api.failed_tokens_burst,
    )
    .map_err(anyhow::Error::msg)
    .context("[api]")?;
    let metrics = Arc::new(v1::metrics::Metrics::default());
    v1::metrics::spawn_observer(Arc::clone(&metrics), &bus);
    let router = v1::router(v1::ApiState {
        reconciler,
        sip,
        auth: Arc::new(auth),
        bus,
        metrics,
        calls_cache: Arc::default(),
        recordings_dir: Arc::new(config.recordings_dir()),
    });
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} ([api] listen)"))?;
    match &api.tls {
        Some(tls) => {
            let acceptor = crate::sip::transport::tls_acceptor(&tls.certificate, &tls.key)
                .map_err(anyhow::Error::msg)
                .context("[api.tls]")?;
            tracing::info!(%addr, "reporting API listening on HTTPS");
            tokio::spawn(crate::api::https::serve(listener, acceptor, router));
        }
        None => {
            tracing::info!(%addr, "reporting API listening on HTTP");
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, service).await {
                    tracing::error!(error = %e, "reporting API stopped");
                }
            });
        }
    }
    Ok(())
}
