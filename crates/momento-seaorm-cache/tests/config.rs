//! `build()` refuses wrong configuration with a message that says what to fix, and the API key
//! never shows in an error, a log line or `Debug` output.

mod common;

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine;
use common::entities::user;
use common::logs::capture;
use common::{Db, TestDb};
use momento_lite::MomentoLite;
use momento_seaorm_cache::{ConfigError, ModelCache, MomentoBackend};
use sea_orm::EntityTrait;

const SECRET: &str = "super-secret-token-4f1e9c";

fn v1_key(token: &str) -> String {
    let json = format!(r#"{{"api_key":"{token}","endpoint":"cell-1.example.momentohq.com"}}"#);
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

fn v2_key(token: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS512"}"#),
        b64(r#"{"t":"g","id":"x"}"#),
        b64(token)
    )
}

/// The variables these tests set or that the library reads.
const ENV_VARS: [&str; 2] = ["MOMENTO_API_KEY", "MOMENTO_ENDPOINT"];

/// One lock for the process environment: every test in this file holds it, because changing a
/// variable while another thread reads the environment (the library, the SDK, a database
/// driver) is a race.
static ENV: Mutex<()> = Mutex::new(());

/// Holds [`ENV`] and puts back the variables as they were when it is dropped, even when the
/// test panics (the lock is released after they are restored).
struct EnvGuard {
    saved: Vec<(&'static str, Option<OsString>)>,
    _lock: MutexGuard<'static, ()>,
}

impl EnvGuard {
    fn lock() -> EnvGuard {
        // A test that panicked while holding the lock restored the variables on its way out.
        let lock = ENV.lock().unwrap_or_else(PoisonError::into_inner);
        let saved = ENV_VARS
            .iter()
            .map(|name| (*name, std::env::var_os(name)))
            .collect();
        EnvGuard { saved, _lock: lock }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            match value {
                Some(value) => std::env::set_var(name, value),
                None => std::env::remove_var(name),
            }
        }
    }
}

/// Runs a test body on its own runtime, on the thread holding the [`EnvGuard`], so that no lock
/// is held across an `.await`.
fn run(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test);
}

/// Builds a backend from the environment with `key` (None = unset) and `endpoint`; only while
/// an [`EnvGuard`] is held.
async fn build_from_env(
    _env: &EnvGuard,
    key: Option<&str>,
    endpoint: Option<&str>,
) -> Result<MomentoBackend, ConfigError> {
    match key {
        Some(key) => std::env::set_var("MOMENTO_API_KEY", key),
        None => std::env::remove_var("MOMENTO_API_KEY"),
    }
    match endpoint {
        Some(endpoint) => std::env::set_var("MOMENTO_ENDPOINT", endpoint),
        None => std::env::remove_var("MOMENTO_ENDPOINT"),
    }
    MomentoBackend::builder().build().await
}

#[test]
fn api_keys_from_the_environment() {
    let env = EnvGuard::lock();
    let env = &env;
    run(async move {
        let err = build_from_env(env, None, None).await.unwrap_err();
        assert_eq!(err, ConfigError::MissingApiKey);
        assert!(
            err.to_string()
                .contains("set the MOMENTO_API_KEY environment variable"),
            "{err}"
        );

        let err = build_from_env(env, Some("  "), None).await.unwrap_err();
        assert_eq!(err, ConfigError::EmptyApiKey);

        let malformed = format!("not-a-key-{SECRET}");
        let err = build_from_env(env, Some(&malformed), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::MalformedApiKey { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("copy it again"), "{err}");
        assert!(!format!("{err} {err:?}").contains(SECRET));

        // A v2 key needs its endpoint, and the error says so.
        let err = build_from_env(env, Some(&v2_key(SECRET)), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("MOMENTO_ENDPOINT"), "{err}");
        assert!(!format!("{err} {err:?}").contains(SECRET));

        // With the endpoint it builds; a legacy v1 key builds alone.
        let v2 = build_from_env(
            env,
            Some(&v2_key(SECRET)),
            Some("cell-1.example.momentohq.com"),
        )
        .await;
        let v2 = v2.expect("v2 key with endpoint");
        assert!(!format!("{v2:?}").contains(SECRET));
        let v1 = build_from_env(env, Some(&v1_key(SECRET)), None)
            .await
            .expect("legacy v1 key");
        assert!(!format!("{v1:?}").contains(SECRET));
        let cache = ModelCache::builder(v1).build().unwrap();
        assert!(!format!("{cache:?}").contains(SECRET));

        // A v1 key with MOMENTO_ENDPOINT set is refused with a hint.
        let err = build_from_env(
            env,
            Some(&v1_key(SECRET)),
            Some("cell-1.example.momentohq.com"),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("unset MOMENTO_ENDPOINT"), "{err}");
    });
}

#[test]
fn bad_names_and_ttls_fail_at_build() {
    // Reads no variable on purpose, but the SDK and the database driver may read the
    // environment while api_keys_from_the_environment changes it.
    let _env = EnvGuard::lock();
    run(async {
        let server = MomentoLite::builder().start().await.unwrap();
        let builder =
            || MomentoBackend::builder().credential_provider(server.credential_provider());

        let err = builder().cache_name("").build().await.unwrap_err();
        assert_eq!(err, ConfigError::EmptyCacheName);
        let err = builder().cache_name("my cache!").build().await.unwrap_err();
        assert!(err.to_string().contains("ASCII letters, digits"), "{err}");

        let err = builder()
            .default_ttl(Duration::ZERO)
            .build()
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("at least one millisecond"),
            "{err}"
        );
        let err = builder()
            .default_ttl(Duration::from_secs(24 * 3600 + 1))
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::TtlTooLong { .. }));
        assert!(err.to_string().contains("lower it"), "{err}");

        // The cache's own TTL is checked against Momento's 24 hours too.
        let backend = builder().build().await.unwrap();
        let err = ModelCache::builder(backend)
            .default_ttl(Duration::from_secs(25 * 3600))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::TtlTooLong { .. }));

        // A good configuration builds and creates its cache.
        builder()
            .cache_name("fresh-cache")
            .create_cache_if_missing(true)
            .build()
            .await
            .expect("creates the cache");
        server.shutdown().await;
    });
}

#[test]
fn the_key_never_reaches_logs_or_errors() {
    // Reads no variable on purpose, but the SDK and the database driver may read the
    // environment while api_keys_from_the_environment changes it.
    let _env = EnvGuard::lock();
    run(async {
        let (captured, _guard) = capture(tracing::Level::TRACE);

        // The server wants SECRET; we present a different secret: every cache call fails with
        // UNAUTHENTICATED, each failure is logged, and reads still succeed from the database.
        let server = MomentoLite::builder()
            .auth_token(SECRET)
            .start()
            .await
            .unwrap();
        let wrong = format!("{SECRET}-wrong");
        let backend = MomentoBackend::builder()
            .credential_provider(momento_lite::credential_provider(
                &server.endpoint(),
                &wrong,
            ))
            .build()
            .await
            .unwrap();
        let cache = ModelCache::builder(backend).build().unwrap();
        let db = TestDb::new(Db::Sqlite).await.unwrap();
        db.seed().await;
        let found = cache
            .wrap(user::Entity)
            .find_by_pk(&db.conn, 1)
            .await
            .unwrap();
        assert_eq!(
            found,
            user::Entity::find_by_id(1).one(&db.conn).await.unwrap()
        );

        let logs = captured.text();
        assert!(logs.contains("cache get failed"), "{logs}");
        assert!(logs.contains("authentication"), "{logs}");
        assert!(!logs.contains(SECRET), "the key leaked into logs:\n{logs}");
        assert!(!format!("{cache:?}").contains(SECRET));

        // Creating the cache with the wrong key is a build error that names no key.
        let err = MomentoBackend::builder()
            .credential_provider(momento_lite::credential_provider(
                &server.endpoint(),
                &wrong,
            ))
            .create_cache_if_missing(true)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::Momento { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(SECRET));
    });
}

#[test]
fn the_env_guard_restores_the_variables_even_after_a_panic() {
    let before: Vec<_> = {
        let _env = EnvGuard::lock();
        ENV_VARS.iter().map(std::env::var_os).collect()
    };
    let panicked = std::panic::catch_unwind(|| {
        let _env = EnvGuard::lock();
        std::env::set_var("MOMENTO_API_KEY", "changed by a failing test");
        std::env::remove_var("MOMENTO_ENDPOINT");
        panic!("a failing test");
    });
    assert!(panicked.is_err());
    let _env = EnvGuard::lock(); // not poisoned for good
    let after: Vec<_> = ENV_VARS.iter().map(std::env::var_os).collect();
    assert_eq!(after, before);
}
