//! `service`: the example service (see the library's docs and `examples/service/README.md`).
//!
//! Logs go to stderr (`RUST_LOG`, default `info`); one line on stdout gives the address:
//! `listening on 127.0.0.1:8000`. SIGINT/SIGTERM stop it after the requests under way.

use std::process::ExitCode;

use clap::Parser;
use service_example::args::{redact_url, Args, CacheMode};
use service_example::{app, domain, start};
use tracing::{error, info};

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,momento::credential_provider=error".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let done = if args.setup {
        setup(&args).await
    } else {
        serve(&args).await
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// `--setup`: drop, create and seed the schema; invalidate everything in a shared cache.
async fn setup(args: &Args) -> Result<(), String> {
    let mut options = sea_orm::ConnectOptions::new(args.database_url.clone());
    options.sqlx_logging(false);
    let db = sea_orm::Database::connect(options)
        .await
        .map_err(|e| format!("database {}: {e}", redact_url(&args.database_url)))?;
    domain::setup(&db, args.users, args.posts_per_user)
        .await
        .map_err(|e| format!("setup: {e}"))?;
    info!(
        users = args.users,
        posts_per_user = args.posts_per_user,
        "schema created and seeded"
    );
    // A cache shared with earlier runs may hold rows of the old seed: invalidate everything
    // (every process sharing the key prefix sees it). An in-process cache would be empty anyway.
    let shared =
        args.momento_lite_endpoint.is_some() || std::env::var_os("MOMENTO_API_KEY").is_some();
    if shared && args.cache == CacheMode::On {
        let built = service_example::cache::build(args).await?;
        built.cache.invalidate_all().await;
        info!(cache = %args.cache_name, "invalidated everything in the cache");
    }
    Ok(())
}

/// Serves the API until SIGINT/SIGTERM.
async fn serve(args: &Args) -> Result<(), String> {
    let service = start(args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    info!(%addr, cache = ?args.cache, near = args.near, "serving");
    axum::serve(listener, app(service.state))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("the HTTP server failed: {e}"))?;
    drop(service.lite);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return interrupt.await.unwrap_or(());
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
