//! Reaching the server: binding its listener, and a credential provider that points the SDK at
//! it.

use std::io;
use std::net::SocketAddr;

use base64::Engine;
use momento::CredentialProvider;
use tokio::net::{TcpListener, TcpSocket};

/// Binds a listener with `SO_REUSEADDR` (except on Windows, where it would let two servers share
/// a port), so a restarted server gets its port back while closed connections linger in
/// `TIME_WAIT`.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A credential provider for a momento-lite (or any insecure Momento-compatible) endpoint.
///
/// Builds a v1 disposable token (URL-safe base64 of `{"api_key": auth_token, "endpoint": host}`)
/// and overrides every endpoint with `endpoint`, insecurely: with an `http://` endpoint the SDK's
/// gRPC clients connect in plain text.
pub fn credential_provider(endpoint: &str, auth_token: &str) -> CredentialProvider {
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/');
    let claims = serde_json::json!({ "api_key": auth_token, "endpoint": host });
    let token = base64::engine::general_purpose::URL_SAFE.encode(claims.to_string());
    CredentialProvider::from_disposable_token(token)
        .expect("a base64 JSON token with api_key and endpoint is a valid v1 token")
        .insecure_endpoint_override(endpoint)
}
