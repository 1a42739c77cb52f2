//! Reads the cache could not answer — a fault, a timeout, the breaker open: one load per key in
//! this process all the same, shared by the callers that arrived before it started
//! ([`Flights::run_unanswered`](crate::flight::Flights)), so a failing cache does not multiply
//! the database's load and each caller still gets an answer from after it began. Nothing is
//! stored; the loaded value is encoded only to hand it to the callers sharing it.

use sea_orm::DbErr;

use super::path::Reading;
use crate::codec::Header;
use crate::connection::CacheableConnection;
use crate::flight::{Landing, Stored};
use crate::load::Loader;
use crate::metrics::ReadOutcome;
use crate::status::{CacheStatus, ReadResult};

impl<C: CacheableConnection> Reading<'_, C> {
    /// Loads once for every caller of this key that arrived before the load started (each on
    /// its own when single flight is off), counting each read as `outcome`.
    pub(super) async fn unanswered<L: Loader>(
        &self,
        loader: L,
        outcome: ReadOutcome,
    ) -> Result<ReadResult<L::Output>, DbErr> {
        let Some(flights) = &self.path.flights else {
            let value = self.path.load(self.db, loader).await?;
            return Ok(self.finish_as(value, outcome));
        };
        let mut loader = Some(loader);
        let mut led = None;
        let (landing, _) = flights
            .run_unanswered(&self.key, || async {
                let Some(loader) = loader.take() else {
                    return Landing::Nothing;
                };
                match self.path.load(self.db, loader).await {
                    Ok(value) => {
                        let policy = &self.path.policy;
                        let (value, encoded) =
                            policy.encode(&self.key, value, self.options, None).await;
                        led = Some(Ok(value));
                        encoded.map_or(Landing::Nothing, |e| Landing::Loaded(e.bytes, Stored::No))
                    }
                    Err(error) => {
                        led = Some(Err(error));
                        Landing::Nothing
                    }
                }
            })
            .await;
        let value = match led {
            Some(result) => result?,
            None => match decoded::<L::Output>(&landing) {
                Some(value) => value,
                // The leader failed or left nothing usable: this caller loads for itself.
                None => {
                    let loader = loader.take().expect("a waiter keeps its loader");
                    self.path.load(self.db, loader).await?
                }
            },
        };
        Ok(self.finish_as(value, outcome))
    }

    fn finish_as<T>(&self, value: T, outcome: ReadOutcome) -> ReadResult<T> {
        let key = Some(self.key.clone());
        self.path.finish(value, CacheStatus::Miss, key, outcome)
    }
}

/// The value a leader left, decoded.
fn decoded<T: serde::de::DeserializeOwned>(landing: &Landing) -> Option<T> {
    let Landing::Loaded(bytes, _) = landing else {
        return None;
    };
    Header::parse(bytes).ok()?.decode(bytes).ok()
}
