//! `momento-seaorm-invalidator`: runs a momento-seaorm-cache change-capture invalidator
//! (PostgreSQL logical decoding or MariaDB/MySQL binary log) as a program next to the
//! database, publishes its heartbeat into the cache (so applications gate their reads with
//! `InvalidatorHealth::from_heartbeat`), and serves `/healthz` and `/metrics`.
//!
//! Logs go to stderr (`RUST_LOG`, default `info`); one line on stdout gives the HTTP address:
//! `listening on 127.0.0.1:9187`. SIGINT/SIGTERM stop it cleanly: the batch under way is
//! finished and a last heartbeat says `stopped`.

mod args;
mod backend;
mod http;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use metrics_exporter_prometheus::PrometheusBuilder;
use momento_seaorm_cache::{
    Invalidator, InvalidatorBuilder, InvalidatorError, InvalidatorHealth, ModelCache,
};
use tracing::{error, info, warn};

use args::{redact_url, Args, Source};

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let source = args.source()?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let cache = backend::cache(&args).await?;
    info!(
        database = %redact_url(&args.database_url),
        ?source,
        name = %args.name,
        cache = %args.cache_name,
        prefix = %args.key_prefix,
        max_lag_ms = args.max_lag_ms,
        "starting the invalidator"
    );
    let invalidator = Arc::new(start(invalidator(&args, source, &cache)).await?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    info!(%addr, "serving /healthz and /metrics");
    let served = http::Served {
        invalidator: invalidator.clone(),
        name: args.name.clone(),
        metrics,
    };
    let server = axum::serve(listener, http::router(served)).with_graceful_shutdown(shutdown());
    if let Err(e) = server.await {
        warn!(error = %e, "the HTTP server failed");
    }
    info!("stopping");
    match Arc::try_unwrap(invalidator) {
        Ok(handle) => handle.stop().await,
        Err(handle) => warn!(status = ?handle.status().state, "could not stop cleanly"),
    }
    Ok(())
}

/// The invalidator the flags describe, publishing its heartbeat for `max_lag`.
fn invalidator(args: &Args, source: Source, cache: &ModelCache) -> InvalidatorBuilder {
    let url = args.database_url.clone();
    let mut builder = match source {
        Source::Postgres => Invalidator::postgres(url, cache),
        Source::Mysql => Invalidator::mysql(url, cache),
    }
    .name(args.name.clone())
    .health(InvalidatorHealth::new(args.max_lag()))
    .publish_heartbeat(args.max_lag());
    if !args.watch_schemas.is_empty() {
        builder = builder.watch_schemas(&args.watch_schemas);
    }
    if let Some(ms) = args.poll_interval_ms {
        builder = builder.poll_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = args.probe_interval_ms {
        builder = builder.probe_interval(Duration::from_millis(ms));
    }
    if let Some(id) = args.server_id {
        builder = builder.server_id(id);
    }
    builder
}

/// Checks the setup first: a setup or configuration problem ends the program with what to
/// change; an unreachable database is retried in the background (unhealthy meanwhile).
async fn start(
    builder: InvalidatorBuilder,
) -> Result<momento_seaorm_cache::InvalidatorHandle, String> {
    match builder.clone().start().await {
        Ok(handle) => Ok(handle),
        Err(InvalidatorError::Database(e)) => {
            warn!(error = %e, "the database is not reachable yet; retrying in the background");
            Ok(builder.spawn())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
