//! A small HTTP/1 client for the admin API, over a Unix socket or TCP.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
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

impl Server {
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
        let (host, mut sender) =
            pbx::http_client::connect(&self.address, self.ca.as_deref()).await.map_err(ClientError::Unreachable)?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(body)).map_err(|e| unreachable(&e))?;
        let (status, bytes) = pbx::http_client::send(&mut sender, request).await.map_err(|e| unreachable(&e))?;
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
