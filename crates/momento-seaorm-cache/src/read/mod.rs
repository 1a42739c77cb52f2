//! The read path every cached read takes, below the front ends.
//!
//! ```text
//! bypass (transaction, owed invalidation) ──────────────────────────► database
//! near cache: current entry ────────────────────────────────────────► caller (NearHit)
//! breaker open ─► database (no cache call; one shared load per key, as after a fault, below)
//! look up: one batch get [value, generations…] ─► judge (header, stamp) ─► hit ─► decode ─► caller
//!                                                   (past fresh-until: Stale + one background refresh)
//! └► miss / outdated / undecodable ─► one flight per (key, generations)
//!      ─► [lease] ─► [create absent generations] ─► database ─► encode (policy) ─► set
//!      (background writes: the caller returns before the set; the flight stays joinable and
//!      deletes of the key wait until it lands)
//! fault, timeout, breaker open ─► one load per key, shared by callers that arrived before it
//!      started ─► database ─► encode (for the callers sharing it; not stored)
//! ```
//! Files, each depending only on those above it: `pending` (background stores not landed yet),
//! `path` (the parts a read uses, the plan, one read in progress), `near` (the near cache: served from memory, kept after a remote hit),
//! `lookup` (fetch and judge), `lease` (cross-process load leases), `fill`
//! (load, encode, store, refresh), `unanswered` (the shared load when the cache could not
//! answer), `entry` (the path's one entry point and its flights).
//!
//! Cache faults, timeouts and undecodable values are logged, counted and fall through to the
//! database; only the database can make a read fail.

mod entry;
mod fill;
mod lease;
mod lookup;
mod near;
mod path;
mod pending;
mod unanswered;

pub(crate) use path::{ReadPath, ReadPlan};
