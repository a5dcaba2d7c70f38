//! Email: the missed-call notice. When a call to an extension ends unanswered (busy, no
//! answer, or the caller gave up) and the extension has `missed_call_email = true` and an
//! `email`, pbxd sends it one message through the tenant's own SMTP server
//! (`notifications.smtp`) or else the node's (`[email]`), from the tenant's
//! `notifications.from` or the node's sender. Sending never holds up calls: each message is
//! its own task, retried with backoff (2 s … 32 s, five attempts), and every failure is logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::{broadcast, watch};

use crate::config::daemon::{EmailConfig, SmtpSecurity};
use crate::config::model::TenantSmtp;
use crate::events::{EventBus, EventKind};
use crate::reconcile::{RoutingSnapshot, TenantRuntime, read_secret};
use crate::store::Cdr;

const ATTEMPTS: u32 = 5;

type Transport = Arc<AsyncSmtpTransport<Tokio1Executor>>;

/// Where mail goes: host, port, security and login.
struct SmtpServer<'a> {
    host: &'a str,
    port: u16,
    security: SmtpSecurity,
    login: Option<(String, String)>,
}

/// Starts the mailer; it runs as long as the bus. `node` is `[email]`, if set.
pub fn spawn(
    node: Option<EmailConfig>,
    snapshot: watch::Receiver<Arc<RoutingSnapshot>>,
    bus: &EventBus,
) -> anyhow::Result<()> {
    let node_transport = match &node {
        Some(config) => Some(Arc::new(transport(&node_server(config)?)?)),
        None => None,
    };
    let node_from = node.map(|c| c.from);
    let mut tenant_transports: HashMap<String, (TenantSmtp, Transport)> = HashMap::new();
    let mut rx = bus.subscribe();
    tokio::spawn(async move {
        loop {
            crate::events::pace(&rx).await;
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
            let transport = match &tenant.model.notifications.smtp {
                Some(smtp) => match tenant_transport(&mut tenant_transports, &tenant.id, smtp) {
                    Ok(t) => Some(t),
                    Err(why) => {
                        tracing::warn!(tenant = %cdr.tenant, %why, "tenant SMTP server unusable; missed-call notice not sent");
                        continue;
                    }
                },
                None => node_transport.clone(),
            };
            let from = tenant.model.notifications.from.as_deref().or(node_from.as_deref());
            match missed_call_notice(&tenant, cdr, from) {
                Ok(Some(message)) => match transport {
                    Some(t) => {
                        tokio::spawn(send_with_retries(t, message, cdr.callee.clone()));
                    }
                    None => tracing::warn!(tenant = %cdr.tenant, extension = %cdr.callee,
                        "missed-call notice not sent: no SMTP server ([email] or notifications.smtp)"),
                },
                Ok(None) => {}
                Err(why) => {
                    tracing::warn!(tenant = %cdr.tenant, extension = %cdr.callee, %why, "missed-call notice not sent")
                }
            }
        }
    });
    Ok(())
}

fn node_server(config: &EmailConfig) -> anyhow::Result<SmtpServer<'_>> {
    let login = match &config.username {
        Some(user) => {
            let password = match &config.password_env {
                Some(var) => {
                    std::env::var(var).map_err(|_| anyhow::anyhow!("[email] password_env: {var} is not set"))?
                }
                None => String::new(),
            };
            Some((user.clone(), password))
        }
        None => None,
    };
    Ok(SmtpServer { host: &config.smtp_host, port: config.smtp_port, security: config.security, login })
}

/// The tenant's transport, built once per configuration of its server.
fn tenant_transport(
    cache: &mut HashMap<String, (TenantSmtp, Transport)>,
    tenant: &str,
    smtp: &TenantSmtp,
) -> Result<Transport, String> {
    if let Some((config, transport)) = cache.get(tenant)
        && config == smtp
    {
        return Ok(Arc::clone(transport));
    }
    let login = match &smtp.username {
        Some(user) => {
            let password = match &smtp.password {
                Some(reference) => read_secret(reference)?,
                None => String::new(),
            };
            Some((user.clone(), password))
        }
        None => None,
    };
    let server = SmtpServer { host: &smtp.host, port: smtp.port, security: smtp.security, login };
    let transport = Arc::new(transport(&server).map_err(|e| e.to_string())?);
    cache.insert(tenant.to_owned(), (smtp.clone(), Arc::clone(&transport)));
    Ok(transport)
}

fn transport(server: &SmtpServer<'_>) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match server.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server.host)?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(server.host)?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host),
    };
    let mut builder = builder.port(server.port).timeout(Some(Duration::from_secs(30)));
    if let Some((user, password)) = &server.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The notice for `cdr`, if its callee wants one.
/// `from` is the sender: the tenant's, else the node's.
pub fn missed_call_notice(tenant: &TenantRuntime, cdr: &Cdr, from: Option<&str>) -> Result<Option<Message>, String> {
    let Some(ext) = tenant.extension(&cdr.callee) else { return Ok(None) };
    let (true, Some(to)) = (ext.missed_call_email, ext.email.as_deref()) else { return Ok(None) };
    let from = from.ok_or("no sender: set notifications.from or [email] from")?;
    let caller_name = tenant.extension(&cdr.caller).map(|e| e.name.as_str());
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

async fn send_with_retries(transport: Transport, message: Message, extension: String) {
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
