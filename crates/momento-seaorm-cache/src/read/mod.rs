//! The read path every cached read takes, below the front ends.
//!
//! ```text
//! bypass (transaction, owed invalidation) ──────────────────────────► database
//! near cache: current entry ────────────────────────────────────────► caller (NearHit)
//! breaker open ─────────────────────────────────────────────────────► database (no cache call)
//! look up: one batch get [value, generations…] ─► judge (header, stamp) ─► hit ─► decode ─► caller
//!                                                   (past fresh-until: Stale + one background refresh)
//! └► miss / outdated / undecodable / fault ─► one flight per (key, generations)
//!      ─► [lease] ─► [create absent generations] ─► database ─► encode (policy) ─► set
//! ```
//! Files, each depending only on those above it: `path` (the parts a read uses, the plan, one
//! read in progress), `near` (the near cache: served from memory, kept after a remote hit),
//! `lookup` (fetch and judge), `lease` (cross-process load leases), `fill`
//! (load, encode, store, refresh), `entry` (the path's one entry point and its flights).
//!
//! Cache faults, timeouts and undecodable values are logged, counted and fall through to the
//! database; only the database can make a read fail.

mod entry;
mod fill;
mod lease;
mod lookup;
mod near;
mod path;

pub(crate) use path::{ReadPath, ReadPlan};
