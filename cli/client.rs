//! A small HTTP/1 client for the admin API, over a Unix socket or TCP.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use pbx::api::error::ErrorBody;

use crate::exit;

/// Where and how to reach pbxd.
pub struct Server {
    pub address: String,
    pub token: Option<String>,
    /// Extra CA certificate (PEM) trusted for https:// servers, beside the system's.
    pub ca: Option<std::path::PathBuf>,
}

/// A failed call, already sorted by exit code.
pub enum ClientError {
    /// Could not connect or the connection broke.
    Unreachable(String),
    /// pbxd answered with an error.
    Refused { status: StatusCode, body: ErrorBody },
}

impl ClientError {
    /// Prints the error and gives the exit code for it.
    pub fn report(self) -> u8 {
        match self {
            ClientError::Unreachable(why) => {
                eprintln!("error: cannot reach pbxd: {why}");
                eprintln!("  help: is pbxd running? set --server or PBXCTL_SERVER (unix:PATH or https://HOST:PORT)");
                exit::UNREACHABLE
            }
            ClientError::Refused { status, body } if status == StatusCode::UNPROCESSABLE_ENTITY => {
                for d in &body.diagnostics {
                    eprintln!("{d}");
                }
                eprintln!("error: {}", body.error);
                exit::INVALID
            }
            ClientError::Refused { status, body } => {
                eprintln!("error: pbxd refused ({status}): {}", body.error);
                exit::REFUSED
            }
        }
    }
}

/// The system's CA bundle (Debian's ca-certificates).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Server {
    /// TLS that trusts the system's CAs and `--ca`.
    fn tls_connector(&self) -> Result<tokio_rustls::TlsConnector, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let files = std::iter::once(std::path::PathBuf::from(SYSTEM_CAS)).chain(self.ca.clone());
        for file in files {
            let Ok(certs) = CertificateDer::pem_file_iter(&file) else {
                if self.ca.as_ref() == Some(&file) {
                    return Err(format!("cannot read CA file {}", file.display()));
                }
                continue;
            };
            for cert in certs.flatten() {
                let _ = roots.add(cert);
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None::<&()>)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        self.call(Method::POST, path, Some(body))
    }

    fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        runtime.block_on(self.send(method, path, body))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let unreachable = |e: &dyn std::fmt::Display| ClientError::Unreachable(format!("{}: {e}", self.address));
        let body = match body {
            Some(b) => Bytes::from(serde_json::to_vec(b).map_err(|e| unreachable(&e))?),
            None => Bytes::new(),
        };
        let (host, mut sender) = if let Some(path) = self.address.strip_prefix("unix:") {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| unreachable(&e))?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
            tokio::spawn(conn);
            ("localhost".to_owned(), sender)
        } else if let Some(host) = self.address.strip_prefix("http://") {
            let host = host.trim_end_matches('/').to_owned();
            let stream = tokio::net::TcpStream::connect(&host).await.map_err(|e| unreachable(&e))?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
            tokio::spawn(conn);
            (host, sender)
        } else if let Some(host) = self.address.strip_prefix("https://") {
            let host = host.trim_end_matches('/').to_owned();
            let connector = self.tls_connector().map_err(|e| unreachable(&e))?;
            let name = host.rsplit_once(':').map_or(host.as_str(), |(name, _)| name).trim_matches(['[', ']']);
            let name = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| unreachable(&e))?;
            let stream = tokio::net::TcpStream::connect(&host).await.map_err(|e| unreachable(&e))?;
            let stream = connector.connect(name, stream).await.map_err(|e| unreachable(&e))?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
            tokio::spawn(conn);
            (host, sender)
        } else {
            return Err(ClientError::Unreachable(format!(
                "unsupported server address \"{}\": use unix:PATH, https://HOST:PORT or http://HOST:PORT",
                self.address
            )));
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(body)).map_err(|e| unreachable(&e))?;
        let response = sender.send_request(request).await.map_err(|e| unreachable(&e))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| unreachable(&e))?.to_bytes();
        if !status.is_success() {
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                error: String::from_utf8_lossy(&bytes).into_owned(),
                diagnostics: Vec::new(),
            });
            return Err(ClientError::Refused { status, body });
        }
        serde_json::from_slice(&bytes).map_err(|e| unreachable(&format!("unexpected answer: {e}")))
    }
}
