//! A small HTTP/1.1 client on hyper: plain TCP, TLS (rustls, the system's CAs plus an
//! optional extra CA) or a Unix socket. Used by pbxctl (admin API) and by pbxd (webhooks).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// The system's CA bundle (Debian's ca-certificates).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS that trusts the system's CAs and `extra_ca`.
pub fn tls_connector(extra_ca: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for file in std::iter::once(Path::new(SYSTEM_CAS)).chain(extra_ca) {
        let Ok(certs) = CertificateDer::pem_file_iter(file) else {
            if extra_ca == Some(file) {
                return Err(format!("cannot read CA file {}", file.display()));
            }
            continue;
        };
        for cert in certs.flatten() {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A connection to `address` ("unix:PATH", "http://HOST:PORT", "https://HOST:PORT", with
/// or without a path, which is ignored here): the Host header value and a request sender.
pub async fn connect(address: &str, extra_ca: Option<&Path>) -> Result<(String, SendRequest<Full<Bytes>>), String> {
    let err = |e: &dyn std::fmt::Display| format!("{address}: {e}");
    if let Some(path) = address.strip_prefix("unix:") {
        let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| err(&e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| err(&e))?;
        tokio::spawn(conn);
        return Ok(("localhost".to_owned(), sender));
    }
    let (tls, rest) = if let Some(rest) = address.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = address.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("unsupported address \"{address}\": use unix:PATH, https://HOST:PORT or http://HOST:PORT"));
    };
    let host = rest.split('/').next().unwrap_or_default().to_owned();
    let target = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !host.ends_with(']') {
        host.clone()
    } else {
        format!("{host}:{}", if tls { 443 } else { 80 })
    };
    let stream = tokio::net::TcpStream::connect(&target).await.map_err(|e| err(&e))?;
    let sender = if tls {
        let connector = tls_connector(extra_ca).map_err(|e| err(&e))?;
        let name = target.rsplit_once(':').map_or(target.as_str(), |(name, _)| name).trim_matches(['[', ']']);
        let name = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| err(&e))?;
        let stream = connector.connect(name, stream).await.map_err(|e| err(&e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| err(&e))?;
        tokio::spawn(conn);
        sender
    } else {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| err(&e))?;
        tokio::spawn(conn);
        sender
    };
    Ok((host, sender))
}

/// The path and query of a URL ("/" when it has none).
pub fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Sends one request and reads the whole answer: (status, body).
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: hyper::Request<Full<Bytes>>,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, bytes))
}
