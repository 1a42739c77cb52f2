//! Fault injection: added latency, gRPC errors, dropped connections and topic faults (dropped,
//! delayed messages, broken subscription streams; see `topics`), switched on and off at
//! run time through a [`FaultController`] (from [`LiteServer::faults`](crate::LiteServer::faults))
//! or at start-up by the binary's `--latency-ms`, `--error-code`, `--fault-rpcs` and
//! `--fault-fraction` flags.
//!
//! A [`Fault`] delays or fails the requests whose [`Rpc`] its [`RpcFilter`] matches, on a random
//! fraction of them. Several faults may be active at once: the latencies of all that apply add
//! up, and the first error that applies (in injection order) is the answer. Faults act in a tower
//! layer in front of both services (`layer`), before the auth check, so a failed request never
//! reaches the store. Closing connections is the job of `connections`, a wrapper around every
//! accepted TCP stream.
//!
//! With no fault active a request costs one atomic load and one atomic increment (the request
//! counter).

mod connections;
mod layer;
mod rpc;
mod topics;

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

pub(crate) use connections::closable;
pub(crate) use layer::FaultLayer;
pub use rpc::{ParseRpcError, Rpc};
pub(crate) use topics::PublishDecision;
pub use topics::TopicCounts;

/// The `err` metadata value Momento sends when an account exceeds its request rate; the SDK
/// reports the status as `LimitExceededError`, "Request rate limit exceeded for this account".
pub const OPERATIONS_RATE_LIMIT_EXCEEDED: &str = "operations_rate_limit_exceeded";

/// Which RPCs a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RpcFilter {
    /// Every RPC of both services, the control plane included.
    All,
    /// Every data-plane RPC: all but `CreateCache`, `DeleteCache`, `ListCaches` and `FlushCache`
    /// ([`Rpc::Other`] included). The default.
    #[default]
    Data,
    /// Only these RPCs.
    Only(HashSet<Rpc>),
}

impl RpcFilter {
    /// Whether a request to `rpc` passes the filter.
    pub fn matches(&self, rpc: Rpc) -> bool {
        match self {
            RpcFilter::All => true,
            RpcFilter::Data => !rpc.is_control(),
            RpcFilter::Only(rpcs) => rpcs.contains(&rpc),
        }
    }
}

impl FromStr for RpcFilter {
    type Err = ParseRpcError;

    /// `all`, `data`, or a comma-separated list of [`Rpc`] names such as `get,set,get_batch`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(RpcFilter::All),
            "data" => Ok(RpcFilter::Data),
            _ => text
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map(RpcFilter::Only),
        }
    }
}

impl fmt::Display for RpcFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcFilter::All => f.write_str("all"),
            RpcFilter::Data => f.write_str("data"),
            RpcFilter::Only(rpcs) => {
                let mut names: Vec<&str> = rpcs.iter().map(|rpc| rpc.name()).collect();
                names.sort_unstable();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// One injected fault: a delay, an error status, or both, on a fraction of the requests to the
/// RPCs it names.
///
/// ```
/// use std::time::Duration;
///
/// use momento_lite::{Fault, Rpc};
///
/// let slow_gets = Fault::latency(Duration::from_millis(200)).on([Rpc::Get]);
/// let flaky = Fault::error(tonic::Code::Unavailable).fraction(0.3);
/// # let _ = (slow_gets, flaky);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    latency: Duration,
    error: Option<Code>,
    rpcs: RpcFilter,
    fraction: f64,
}

impl Fault {
    /// Delays the answer by `d`; the request then proceeds normally (unless another active
    /// fault fails it). A delay past the client's deadline is reported by the SDK as
    /// `TimeoutError`.
    pub fn latency(d: Duration) -> Fault {
        Fault {
            latency: d,
            error: None,
            rpcs: RpcFilter::Data,
            fraction: 1.0,
        }
    }

    /// Answers with this gRPC status code instead of running the request. The SDK 0.70 reports
    /// `Unavailable` as `ServerUnavailable`, `Internal` as `InternalServerError`,
    /// `DeadlineExceeded` as `TimeoutError` and `ResourceExhausted` as `LimitExceededError`;
    /// the latter carries `err: operations_rate_limit_exceeded` metadata, as Momento throttling
    /// does. `Code::Ok` injects nothing.
    pub fn error(code: Code) -> Fault {
        Fault {
            latency: Duration::ZERO,
            error: (code != Code::Ok).then_some(code),
            rpcs: RpcFilter::Data,
            fraction: 1.0,
        }
    }

    /// Restricts the fault to these RPCs (by default it applies to every data-plane RPC); an
    /// empty list matches nothing.
    pub fn on(self, rpcs: impl IntoIterator<Item = Rpc>) -> Fault {
        self.filter(RpcFilter::Only(rpcs.into_iter().collect()))
    }

    /// Sets the RPCs the fault applies to, such as [`RpcFilter::All`] to include the control
    /// plane.
    pub fn filter(self, rpcs: RpcFilter) -> Fault {
        Fault { rpcs, ..self }
    }

    /// Applies the fault to a random fraction `p` of the matching requests (by default all of
    /// them); `p` is clamped to `0.0..=1.0`, and NaN counts as 0.
    pub fn fraction(self, p: f64) -> Fault {
        let fraction = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        Fault { fraction, ..self }
    }

    /// The RPCs the fault applies to.
    pub fn rpcs(&self) -> &RpcFilter {
        &self.rpcs
    }

    /// The status this fault answers with, if it is an error fault.
    pub fn status(&self) -> Option<Status> {
        self.error.map(injected_status)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut effects = Vec::new();
        if !self.latency.is_zero() {
            effects.push(format!("{} ms latency", self.latency.as_millis()));
        }
        if let Some(code) = self.error {
            effects.push(format!("{code:?} errors"));
        }
        if effects.is_empty() {
            effects.push("no effect".to_owned());
        }
        write!(
            f,
            "{} on {} RPCs, {}% of requests",
            effects.join(" and "),
            self.rpcs,
            self.fraction * 100.0
        )
    }
}

/// The gRPC status an error fault answers with.
pub(crate) fn injected_status(code: Code) -> Status {
    let mut status = Status::new(code, format!("momento-lite injected fault: {code:?}"));
    if code == Code::ResourceExhausted {
        status.metadata_mut().insert(
            "err",
            MetadataValue::from_static(OPERATIONS_RATE_LIMIT_EXCEEDED),
        );
    }
    status
}

/// What the active faults do to one request: wait this long, then answer this error (if any)
/// instead of running it.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) error: Option<Code>,
}

/// Switches faults on and off on a running server, drops its connections, drops, delays and
/// breaks its topic messages and subscriptions, and counts its requests and topic messages. Cheap to clone, `Send + Sync`; every clone controls the same server, across
/// [`LiteServer::stop`](crate::LiteServer::stop) and
/// [`start_again`](crate::LiteServer::start_again).
#[derive(Debug, Clone)]
pub struct FaultController {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The active faults, in injection order.
    faults: RwLock<Vec<Fault>>,
    /// Whether `faults` is non-empty: the request path reads only this when no fault is set.
    any: AtomicBool,
    /// Requests received by either service.
    requests: AtomicU64,
    /// Bumped to close every open connection; each connection watches it.
    generation: watch::Sender<u64>,
    /// The state of the SplitMix64 generator that decides fractions.
    random: AtomicU64,
    /// Topic faults and message counters.
    topics: topics::TopicFaults,
}

impl FaultController {
    /// A controller with no faults and no requests counted.
    pub(crate) fn new() -> Self {
        let seed = RandomState::new().build_hasher().finish();
        FaultController {
            shared: Arc::new(Shared {
                faults: RwLock::new(Vec::new()),
                any: AtomicBool::new(false),
                requests: AtomicU64::new(0),
                generation: watch::Sender::new(0),
                random: AtomicU64::new(seed),
                topics: topics::TopicFaults::new(),
            }),
        }
    }

    /// Adds a fault; it applies from the next request on. Several may be active: their
    /// latencies add up and the first matching error wins.
    pub fn inject(&self, fault: Fault) {
        tracing::info!(%fault, "momento-lite fault injected");
        let mut faults = self.write();
        faults.push(fault);
        self.shared.any.store(true, Ordering::Release);
    }

    /// Removes every fault, the topic message drops and delays included (a stream break is
    /// instantaneous, there is nothing to remove).
    pub fn clear(&self) {
        self.shared.topics.clear();
        let mut faults = self.write();
        faults.clear();
        self.shared.any.store(false, Ordering::Release);
    }

    /// The active faults, in injection order.
    pub fn active(&self) -> Vec<Fault> {
        self.shared
            .faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Closes every open client connection now; requests in flight on them fail. New
    /// connections are accepted as usual, so the SDK reconnects on a later call.
    pub fn drop_connections(&self) {
        self.shared
            .generation
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// How many requests (data plane and control plane, failed ones included) the server has
    /// received since it was built.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Counts a request to `rpc` and decides what the active faults do to it.
    pub(crate) fn on_request(&self, rpc: Rpc) -> Option<Decision> {
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        if !self.shared.any.load(Ordering::Acquire) {
            return None;
        }
        let faults = self
            .shared
            .faults
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut decision = Decision::default();
        for fault in faults.iter() {
            if !fault.rpcs.matches(rpc) || !self.chance(fault.fraction) {
                continue;
            }
            decision.latency = decision.latency.saturating_add(fault.latency);
            decision.error = decision.error.or(fault.error);
        }
        Some(decision)
    }

    /// A receiver that sees a change when [`drop_connections`](Self::drop_connections) is
    /// called.
    pub(crate) fn connection_generation(&self) -> watch::Receiver<u64> {
        self.shared.generation.subscribe()
    }

    /// True with probability `p` (SplitMix64 over an atomic counter, so concurrent requests
    /// draw different numbers without a lock).
    fn chance(&self, p: f64) -> bool {
        if p >= 1.0 {
            return true;
        }
        if p <= 0.0 {
            return false;
        }
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .shared
            .random
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Fault>> {
        self.shared
            .faults
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fault_means_no_decision_but_a_count() {
        let faults = FaultController::new();
        assert!(faults.on_request(Rpc::Get).is_none());
        assert!(faults.on_request(Rpc::CreateCache).is_none());
        assert_eq!(faults.requests(), 2);
    }

    #[test]
    fn latencies_add_up_and_the_first_error_wins() {
        let faults = FaultController::new();
        faults.inject(Fault::latency(Duration::from_millis(10)));
        faults.inject(Fault::error(Code::Internal).on([Rpc::Set]));
        faults.inject(Fault::latency(Duration::from_millis(5)).on([Rpc::Get]));
        faults.inject(Fault::error(Code::Unavailable));
        faults.inject(Fault::error(Code::Aborted));

        let get = faults.on_request(Rpc::Get).expect("faults are active");
        assert_eq!(get.latency, Duration::from_millis(15));
        assert_eq!(get.error, Some(Code::Unavailable));
        let set = faults.on_request(Rpc::Set).expect("faults are active");
        assert_eq!(set.latency, Duration::from_millis(10));
        assert_eq!(set.error, Some(Code::Internal));

        faults.clear();
        assert!(faults.on_request(Rpc::Get).is_none());
        assert!(faults.active().is_empty());
    }

    #[test]
    fn the_default_filter_spares_the_control_plane() {
        let faults = FaultController::new();
        faults.inject(Fault::error(Code::Unavailable));
        let create = faults.on_request(Rpc::CreateCache).expect("active");
        assert_eq!(create.error, None);
        let other = faults.on_request(Rpc::Other).expect("active");
        assert_eq!(other.error, Some(Code::Unavailable));

        faults.inject(Fault::error(Code::Internal).filter(RpcFilter::All));
        let create = faults.on_request(Rpc::CreateCache).expect("active");
        assert_eq!(create.error, Some(Code::Internal));
    }

    #[test]
    fn fractions_are_roughly_honoured() {
        let faults = FaultController::new();
        assert!((0..1000).all(|_| !faults.chance(0.0)));
        assert!((0..1000).all(|_| faults.chance(1.0)));
        let hits = (0..10_000).filter(|_| faults.chance(0.3)).count();
        assert!((2_600..=3_400).contains(&hits), "{hits}");
        assert_eq!(
            Fault::error(Code::Internal).fraction(f64::NAN).fraction,
            0.0
        );
        assert_eq!(Fault::error(Code::Internal).fraction(7.0).fraction, 1.0);
    }

    #[test]
    fn throttling_carries_the_rate_limit_err_metadata() {
        let status = injected_status(Code::ResourceExhausted);
        let err = status.metadata().get("err").and_then(|v| v.to_str().ok());
        assert_eq!(err, Some(OPERATIONS_RATE_LIMIT_EXCEEDED));
        let status = injected_status(Code::Unavailable);
        assert!(status.metadata().get("err").is_none());
        assert_eq!(Fault::error(Code::Ok).status().map(|s| s.code()), None);
    }

    #[test]
    fn filters_parse_from_the_command_line_form() {
        assert_eq!("all".parse(), Ok(RpcFilter::All));
        assert_eq!("DATA".parse(), Ok(RpcFilter::Data));
        let only: RpcFilter = "get,set_batch".parse().expect("two RPCs");
        assert_eq!(
            only,
            RpcFilter::Only(HashSet::from([Rpc::Get, Rpc::SetBatch]))
        );
        assert_eq!(only.to_string(), "get,set_batch");
        assert!("get,nope".parse::<RpcFilter>().is_err());
    }
}
