//! Email: the missed-call notice. When a call to an extension ends unanswered (busy, no
//! answer, or the caller gave up) and the extension has `missed_call_email = true` and an
//! `email`, pbxd sends it one message through the SMTP server of `[email]`, from the
//! tenant's `notifications.from` or the node's sender. Sending never holds up calls: each
//! message is its own task, retried with backoff (2 s … 32 s, five attempts), and every
//! failure is logged.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{broadcast, watch};

use crate::config::daemon::{EmailConfig, SmtpSecurity};
use crate::events::{EventBus, EventKind};
use crate::reconcile::{RoutingSnapshot, TenantRuntime};
use crate::store::Cdr;

const ATTEMPTS: u32 = 5;

/// Starts the mailer; it runs as long as the bus.
pub fn spawn(
    config: EmailConfig,
    snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
    bus: &EventBus,
) -> anyhow::Result<()> {
    let transport = Arc::new(transport(&config)?);
    let mut rx = bus.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!(missed = n, "mailer fell behind the event bus; some notices were not sent");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let EventKind::CallMissed { cdr } = &event.kind else { continue };
            let Some(tenant) = snapshot.borrow().tenants.get(&cdr.tenant).cloned() else { continue };
            match missed_call_notice(&tenant, cdr, &config.from) {
                Ok(Some(message)) => {
                    tokio::spawn(send_with_retries(Arc::clone(&transport), message, cdr.callee.clone()));
                }
                Ok(None) => {}
                Err(why) => {
                    tracing::warn!(tenant = %cdr.tenant, extension = %cdr.callee, %why, "missed-call notice not sent")
                }
            }
        }
    });
    Ok(())
}

fn transport(config: &EmailConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match config.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host)?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host)?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host),
    };
    let mut builder = builder.port(config.smtp_port).timeout(Some(Duration::from_secs(30)));
    if let Some(user) = &config.username {
        let password = match &config.password_env {
            Some(var) => std::env::var(var).map_err(|_| anyhow::anyhow!("[email] password_env: {var} is not set"))?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// The notice for `cdr`, if its callee wants one.
pub fn missed_call_notice(tenant: &TenantRuntime, cdr: &Cdr, node_from: &str) -> Result<Option<Message>, String> {
    let Some(ext) = tenant.model.extensions.iter().find(|e| e.number == cdr.callee) else { return Ok(None) };
    let (true, Some(to)) = (ext.missed_call_email, ext.email.as_deref()) else { return Ok(None) };
    let from = tenant.model.notifications.from.as_deref().unwrap_or(node_from);
    let caller_name = tenant.model.extensions.iter().find(|e| e.number == cdr.caller).map(|e| e.name.as_str());
    let caller = match caller_name {
        Some(name) => format!("{name} ({})", cdr.caller),
        None => cdr.caller.clone(),
    };
    let when = jiff::Timestamp::from_millisecond(cdr.start_ms)
        .ok()
        .and_then(|t| t.in_tz(&tenant.model.tenant.timezone).ok())
        .map(|z| z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
        .unwrap_or_default();
    let outcome = match cdr.disposition.as_str() {
        "busy" => "you were busy",
        "no_answer" => "nobody answered",
        _ => "the caller hung up before it was answered",
    };
    let body = format!(
        "Hello {name},\r\n\r\nyou missed a call.\r\n\r\nFrom:  {caller}\r\nTo:    {to_ext}\r\nTime:  {when}\r\nWhy:   {outcome}\r\n\r\n-- \r\n{tenant_name} telephone system\r\n",
        name = ext.name,
        to_ext = cdr.callee,
        tenant_name = tenant.model.tenant.name,
    );
    let parse = |what: &str, text: &str| text.parse::<Mailbox>().map_err(|e| format!("{what} \"{text}\": {e}"));
    Message::builder()
        .from(parse("sender", from)?)
        .to(parse("recipient", to)?)
        .subject(format!("Missed call from {caller}"))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map(Some)
        .map_err(|e| e.to_string())
}

async fn send_with_retries(transport: Arc<AsyncSmtpTransport<Tokio1Executor>>, message: Message, extension: String) {
    let mut delay = Duration::from_secs(2);
    for attempt in 1..=ATTEMPTS {
        match transport.send(message.clone()).await {
            Ok(_) => {
                tracing::info!(%extension, "missed-call notice sent");
                return;
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(%extension, attempt, error = %e, retry_in = ?delay, "missed-call notice not sent yet");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => tracing::error!(%extension, error = %e, "missed-call notice given up after {ATTEMPTS} attempts"),
        }
    }
}
