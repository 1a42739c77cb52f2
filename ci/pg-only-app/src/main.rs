//! Caches a read on PostgreSQL; exists to be built and inspected, not run in tests.

use momento_seaorm_cache::{CacheQueryExt, MemoryBackend, ModelCache};
use sea_orm::{DbBackend, JsonValue, SelectModel, SelectorRaw, Statement};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = sea_orm::Database::connect("postgres://postgres@127.0.0.1:5432/test").await?;
    let cache = ModelCache::builder(MemoryBackend::new()).build()?;
    let rows = SelectorRaw::<SelectModel<JsonValue>>::from_statement::<JsonValue>(
        Statement::from_string(DbBackend::Postgres, "SELECT 1 AS one"),
    )
    .cached(&cache)
    .all(&db)
    .await?;
    println!("{rows:?}");
    Ok(())
}
