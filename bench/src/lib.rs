//! The benchmark program of momento-seaorm-cache: how close a cached read comes to the physical
//! limit (the backend's own `get`), what a miss costs, and where the cache pays.
//!
//! `cargo run --release -p bench -- <scenario> [--json FILE]`; `all` runs every scenario.
//!
//! # Map of the crate
//! * `main.rs` — the command line, dispatch, the printed summary and the JSON file.
//! * [`hit`] — hit latency of `find_by_pk` and `.cached().all()` against the raw SDK `get` of
//!   the same key and bytes.
//! * [`hit_target`] — the populated cache per consistency mode, and the raw SDK calls that are
//!   the limit of its hits.
//! * [`throughput`] — hit throughput at 1–256 concurrent tasks against the raw SDK.
//! * [`standalone`] — momento-lite as its own process, for the `_standalone` figures.
//! * [`expensive`] — a join plus aggregate over 100k rows, uncached against cached, on SQLite
//!   and PostgreSQL.
//! * [`miss`] — miss + query + set against the query alone.
//! * [`mixed`] — hit ratio of Zipf reads with 0–10% row writes over two caches (issue 10), as
//!   a matrix of key type × writer × database (issue 19).
//! * [`mixed_keys`] — the matrix's UUID and email (exact collation) keys.
//! * [`mixed_db`] — the matrix's databases and their change-capture invalidators.
//! * [`sweep`] — hit ratio against write rate (0–20%) per key type, and its picture.
//! * [`plot`] — SVG pictures: values over time with shaded windows, and x–y lines.
//! * [`cdc`] — change capture: commit-to-invalidation lag on PostgreSQL and MariaDB.
//! * [`codec`] — `Envelope` encode/decode time and stored size per format and compression.
//! * [`offload`] — how long a multi-megabyte hit or miss blocks its runtime's worker.
//! * [`near`] — the near cache: near-hit latency, backend share of a zipfian workload,
//!   throughput at 64 tasks, and invalidation delay between two caches (clean and lossy).
//! * [`memory`] — one-row hits on the in-process `MemoryBackend`: the library's own cost.
//! * [`service`] — the example service under open-loop load, faults and a fleet of 4 app
//!   processes, cached against uncached, with a stale-read checker and plots.
//! * [`plot`] — SVG line plots over time.
//! * [`profile`] — a bare hit loop to run under callgrind or perf.
//! * [`targets`] — the targets the figures are checked against.
//! * [`fixtures`] — entities, seeded databases, the in-process momento-lite server.
//! * [`stats`] — percentiles and ratios.
//!
//! Every scenario interleaves the operations it compares (A, B, A, B, … with the order rotated
//! each round) after a warm-up, so a ratio never compares a cold run with a warm one or a busy
//! moment of the machine with a quiet one.

pub mod cdc;
pub mod codec;
pub mod expensive;
pub mod fixtures;
pub mod hit;
pub mod hit_target;
pub mod memory;
pub mod miss;
pub mod mixed;
pub mod mixed_db;
pub mod mixed_keys;
pub mod near;
pub mod offload;
pub mod plot;
pub mod profile;
pub mod redis;
pub mod service;
pub mod standalone;
pub mod stats;
pub mod sweep;
pub mod targets;
pub mod throughput;
