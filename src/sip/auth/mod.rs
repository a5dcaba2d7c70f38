//! SIP digest authentication, server side (RFC 3261 §22, RFC 7616, RFC 2617, RFC 8760).
//!
//! Exists so that the registrar and the proxy challenge and verify requests the same way for
//! every tenant realm. Pieces, each usable alone:
//! - [`Algorithm`], [`ha1`]: hash arithmetic; [`Credential`]: stored HA1 or a password.
//! - [`NonceIssuer`]: stateless, HMAC-authenticated, time-stamped nonces.
//! - [`NonceCounts`]: bounded replay protection on `nc`.
//! - [`verify`] / [`verify_with`]: the response computation.
//! - [`challenge`]: `WWW-Authenticate` / `Proxy-Authenticate` values.
//! - [`Authenticator`]: the above chained in the right order.
//!
//! Caller duties this module cannot do: compare the response's `uri` with the Request-URI;
//! answer an unknown user exactly like a wrong password (same 401, same timing: verify against
//! a dummy credential) so usernames cannot be enumerated; feed failures to
//! [`crate::sip::guard::AuthFailures`]. This module must never do I/O, read clocks or panic on
//! anything a peer sent, and never log secrets.

mod algorithm;
mod authenticator;
mod challenge;
mod credential;
mod nonce;
mod nonce_count;
mod verify;

pub use algorithm::{Algorithm, ha1, session_ha1};
pub use authenticator::{Authenticator, Outcome, Policy, Rejection};
pub use challenge::{challenge, challenge_with_opaque};
pub use credential::Credential;
pub use nonce::{NonceCheck, NonceIssuer};
pub use nonce_count::{NcCheck, NonceCounts};
pub use verify::{
    DigestResponse, VerifyError, VerifyOptions, expected_response, request_algorithm, verify, verify_with,
};
