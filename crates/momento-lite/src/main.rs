//! The momento-lite binary: runs a Momento-compatible cache server until ctrl-c.
//!
//! ```text
//! cargo run -p momento-lite -- --port 8080 [--auth-token T] [--host 0.0.0.0]
//! ```

use std::net::IpAddr;

use clap::Parser;
use momento_lite::MomentoLite;
use tracing_subscriber::EnvFilter;

/// A Momento-compatible cache server for tests and offline development.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOMENTO_LITE_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "MOMENTO_LITE_PORT", default_value_t = 8080)]
    port: u16,
    /// Require this token in every request's `authorization` metadata.
    #[arg(long, env = "MOMENTO_LITE_AUTH_TOKEN")]
    auth_token: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let mut builder = MomentoLite::builder().host(args.host).port(args.port);
    if let Some(token) = &args.auth_token {
        builder = builder.auth_token(token.clone());
    }
    let server = builder.start().await?;
    println!("momento-lite listening on {}", server.endpoint());
    println!(
        "connect with momento_lite::credential_provider({:?}, {:?})",
        server.endpoint(),
        args.auth_token.as_deref().unwrap_or("<any token>")
    );
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    server.shutdown().await;
    Ok(())
}
