//! The momento-lite binary: runs a Momento-compatible cache server until ctrl-c.
//!
//! ```text
//! cargo run -p momento-lite -- --port 8080 [--auth-token T] [--host 0.0.0.0] [--max-memory-mb N]
//!     [--topic-heartbeat-ms N]
//!     [--latency-ms N] [--error-code unavailable|internal|resource-exhausted|deadline-exceeded]
//!     [--fault-rpcs get,set] [--fault-fraction 0.3]
//! ```

use std::net::IpAddr;
use std::time::Duration;

use clap::{ArgGroup, Parser, ValueEnum};
use momento_lite::{Fault, MomentoLite, RpcFilter};
use tracing_subscriber::EnvFilter;

/// A Momento-compatible cache server for tests and offline development.
///
/// Fault injection: --latency-ms and --error-code apply to every request of the RPCs named by
/// --fault-rpcs (all data-plane RPCs by default), or to a random --fault-fraction of them. Given
/// both, the delay and the error are two faults, each applied to its own random fraction.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
#[command(group(ArgGroup::new("fault").multiple(true).args(["latency_ms", "error_code"])))]
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
    /// Memory limit of each cache, in MiB: a full cache evicts its least recently used items
    /// (unlimited by default).
    #[arg(long, env = "MOMENTO_LITE_MAX_MEMORY_MB", value_name = "N")]
    max_memory_mb: Option<u64>,
    /// Interval of the heartbeats on topic subscription streams, in milliseconds.
    #[arg(
        long,
        env = "MOMENTO_LITE_TOPIC_HEARTBEAT_MS",
        value_name = "N",
        default_value_t = 5000
    )]
    topic_heartbeat_ms: u64,
    /// Fault: delay the answer to each affected request by this many milliseconds.
    #[arg(long, env = "MOMENTO_LITE_LATENCY_MS", value_name = "N")]
    latency_ms: Option<u64>,
    /// Fault: answer each affected request with this gRPC status instead of serving it
    /// (the SDK reports ServerUnavailable, InternalServerError, LimitExceededError with
    /// `err: operations_rate_limit_exceeded`, TimeoutError).
    #[arg(long, env = "MOMENTO_LITE_ERROR_CODE", value_name = "CODE")]
    error_code: Option<ErrorCode>,
    /// Which RPCs the faults affect: `data` (every data-plane RPC), `all` (the control plane
    /// too), or a comma-separated list of get, get_batch, set, set_batch, delete, set_if,
    /// set_if_not_exists, keys_exist, increment, update_ttl, item_get_ttl, set_union,
    /// set_difference, set_fetch, create_cache, delete_cache, list_caches, flush_cache, other.
    #[arg(
        long,
        env = "MOMENTO_LITE_FAULT_RPCS",
        value_name = "RPCS",
        default_value = "data",
        requires = "fault"
    )]
    fault_rpcs: RpcFilter,
    /// The fraction of the affected requests that get each fault, from 0.0 to 1.0.
    #[arg(
        long,
        env = "MOMENTO_LITE_FAULT_FRACTION",
        value_name = "P",
        default_value = "1.0",
        value_parser = parse_fraction,
        requires = "fault"
    )]
    fault_fraction: f64,
}

/// The gRPC status codes `--error-code` injects.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ErrorCode {
    /// UNAVAILABLE, the SDK's ServerUnavailable.
    Unavailable,
    /// INTERNAL, the SDK's InternalServerError.
    Internal,
    /// RESOURCE_EXHAUSTED with Momento's throttling metadata, the SDK's LimitExceededError.
    ResourceExhausted,
    /// DEADLINE_EXCEEDED, the SDK's TimeoutError.
    DeadlineExceeded,
}

impl From<ErrorCode> for tonic::Code {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::Internal => tonic::Code::Internal,
            ErrorCode::ResourceExhausted => tonic::Code::ResourceExhausted,
            ErrorCode::DeadlineExceeded => tonic::Code::DeadlineExceeded,
        }
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let fraction: f64 = text.parse().map_err(|error| format!("{error}"))?;
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!("{fraction} is not between 0.0 and 1.0"))
    }
}

impl Args {
    /// The server the flags ask for.
    fn builder(&self) -> MomentoLite {
        let mut builder = MomentoLite::builder()
            .host(self.host)
            .port(self.port)
            .topic_heartbeat(Duration::from_millis(self.topic_heartbeat_ms));
        if let Some(token) = &self.auth_token {
            builder = builder.auth_token(token.clone());
        }
        if let Some(mb) = self.max_memory_mb {
            builder = builder.max_memory_mb(mb);
        }
        builder
    }

    /// The faults the flags ask for.
    fn faults(&self) -> Vec<Fault> {
        let latency = self
            .latency_ms
            .map(|ms| Fault::latency(Duration::from_millis(ms)));
        let error = self.error_code.map(|code| Fault::error(code.into()));
        latency
            .into_iter()
            .chain(error)
            .map(|fault| {
                fault
                    .filter(self.fault_rpcs.clone())
                    .fraction(self.fault_fraction)
            })
            .collect()
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let server = args.builder().start().await?;
    for fault in args.faults() {
        server.faults().inject(fault); // logged at info level
    }
    println!("momento-lite listening on {}", server.endpoint());
    if let Some(bytes) = server.max_memory_bytes() {
        println!("each cache holds at most {bytes} bytes, least recently used items evicted");
    }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn fault_flags_build_faults() {
        let args = Args::try_parse_from([
            "momento-lite",
            "--latency-ms",
            "150",
            "--error-code",
            "resource-exhausted",
            "--fault-rpcs",
            "get,set",
            "--fault-fraction",
            "0.3",
        ])
        .expect("valid flags");
        let expected_rpcs: RpcFilter = "get,set".parse().expect("two RPCs");
        let faults = args.faults();
        assert_eq!(
            faults,
            [
                Fault::latency(Duration::from_millis(150))
                    .filter(expected_rpcs.clone())
                    .fraction(0.3),
                Fault::error(tonic::Code::ResourceExhausted)
                    .filter(expected_rpcs)
                    .fraction(0.3),
            ]
        );
        let none = Args::try_parse_from(["momento-lite"]).expect("no flags");
        assert!(none.faults().is_empty());
    }

    #[test]
    fn max_memory_mb_limits_each_cache() {
        let args = Args::try_parse_from(["momento-lite", "--max-memory-mb", "3"]).expect("valid");
        assert_eq!(args.max_memory_mb, Some(3));
        let limited = format!("{:?}", args.builder());
        assert!(
            limited.contains("max_memory_bytes: Some(3145728)"),
            "{limited}"
        );
        let unlimited = Args::try_parse_from(["momento-lite"]).expect("no flags");
        let unlimited = format!("{:?}", unlimited.builder());
        assert!(unlimited.contains("max_memory_bytes: None"), "{unlimited}");
        assert!(Args::try_parse_from(["momento-lite", "--max-memory-mb", "-1"]).is_err());
    }

    #[test]
    fn bad_fault_flags_are_refused() {
        for flags in [
            &["--fault-fraction", "1.5", "--latency-ms", "1"][..],
            &["--fault-rpcs", "get,fetch", "--latency-ms", "1"],
            &["--error-code", "teapot"],
            &["--fault-fraction", "0.5"],
        ] {
            let args = std::iter::once("momento-lite").chain(flags.iter().copied());
            assert!(Args::try_parse_from(args).is_err(), "{flags:?}");
        }
    }
}
