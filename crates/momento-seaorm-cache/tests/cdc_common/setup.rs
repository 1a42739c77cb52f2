//! Whether the server is set up for change capture. A server as installed has no logical
//! decoding (PostgreSQL `wal_level = replica`) and no binary log (MariaDB): the change-capture
//! suites then skip, printing why and the fix, as the database suites do without a server —
//! unless `REQUIRE_DATABASES=1` (`.ci/run`), which turns the skip into a failure.

use sea_orm::{ConnectionTrait, Statement};

use crate::common::{Db, TestDb};

/// The server settings change capture depends on, as the server reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSettings {
    /// `SHOW wal_level`.
    Postgres { wal_level: String },
    /// `@@GLOBAL.log_bin`, `@@GLOBAL.binlog_format`.
    MySql {
        log_bin: String,
        binlog_format: String,
    },
}

/// Why change capture cannot run with `settings`, with the fix; `None` when it can.
pub fn capture_setting_problem(settings: &CaptureSettings) -> Option<String> {
    match settings {
        CaptureSettings::Postgres { wal_level } if wal_level != "logical" => Some(format!(
            "PostgreSQL wal_level is {wal_level}, change capture needs logical: \
             ALTER SYSTEM SET wal_level = logical and restart PostgreSQL (.ci/run does this)"
        )),
        CaptureSettings::MySql {
            log_bin,
            binlog_format,
        } if !(log_bin == "1" || log_bin.eq_ignore_ascii_case("ON"))
            || !binlog_format.eq_ignore_ascii_case("ROW") =>
        {
            Some(format!(
                "MariaDB log_bin is {log_bin} and binlog_format is {binlog_format}, change \
                 capture needs the binary log in ROW format: log_bin = mariadb-bin, \
                 binlog_format = ROW, server_id = 1 under [mysqld] and restart MariaDB \
                 (.ci/run does this)"
            ))
        }
        _ => None,
    }
}

/// `REQUIRE_DATABASES=1`: a missing server or setting fails instead of skipping.
pub fn required() -> bool {
    std::env::var("REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

/// What a test does about a setting problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run,
    /// Skip, printing this.
    Skip(String),
    /// Fail with this (`REQUIRE_DATABASES=1`).
    Fail(String),
}

/// Run without a problem; with one, skip, or fail when `required`.
pub fn decide(problem: Option<String>, required: bool) -> Decision {
    match problem {
        None => Decision::Run,
        Some(problem) if required => Decision::Fail(format!("REQUIRE_DATABASES=1 but {problem}")),
        Some(problem) => Decision::Skip(format!("SKIPPED: {problem}")),
    }
}

/// Whether the test may run: `true` without a problem; with one, prints `SKIPPED: ...` and
/// returns `false`, or panics when `required`.
pub fn may_run(problem: Option<String>, required: bool) -> bool {
    match decide(problem, required) {
        Decision::Run => true,
        Decision::Skip(message) => {
            eprintln!("{message}");
            false
        }
        Decision::Fail(message) => panic!("{message}"),
    }
}

/// Reads the settings from the server `db` is on.
pub async fn read_settings(db: &TestDb) -> CaptureSettings {
    let one = |sql: &str| Statement::from_string(db.backend(), sql.to_owned());
    match db.kind {
        Db::Postgres => {
            let row = db
                .conn
                .query_one_raw(one("SELECT current_setting('wal_level') AS v"))
                .await
                .expect("read wal_level")
                .expect("a row");
            CaptureSettings::Postgres {
                wal_level: row.try_get("", "v").expect("wal_level"),
            }
        }
        _ => {
            let row = db
                .conn
                .query_one_raw(one("SELECT CAST(@@GLOBAL.log_bin AS CHAR) AS l, \
                     CAST(@@GLOBAL.binlog_format AS CHAR) AS f"))
                .await
                .expect("read log_bin")
                .expect("a row");
            CaptureSettings::MySql {
                log_bin: row.try_get("", "l").expect("log_bin"),
                binlog_format: row.try_get("", "f").expect("binlog_format"),
            }
        }
    }
}

/// Whether change capture can run on the server of `db` (skips or fails as [`may_run`]).
pub async fn capture_ready(db: &TestDb) -> bool {
    may_run(
        capture_setting_problem(&read_settings(db).await),
        required(),
    )
}

/// The skip path, without restarting a server: the decision on each setting.
pub fn check_the_skip_decision() {
    let replica = CaptureSettings::Postgres {
        wal_level: "replica".into(),
    };
    let problem = capture_setting_problem(&replica).expect("replica is a problem");
    assert!(
        problem.contains("ALTER SYSTEM SET wal_level = logical"),
        "{problem}"
    );
    assert_eq!(
        decide(Some(problem.clone()), false),
        Decision::Skip(format!("SKIPPED: {problem}"))
    );
    assert!(
        matches!(decide(Some(problem), true), Decision::Fail(m)
            if m.starts_with("REQUIRE_DATABASES=1 but PostgreSQL wal_level is replica")),
        "REQUIRE_DATABASES=1 turns the skip into a failure"
    );
    let logical = CaptureSettings::Postgres {
        wal_level: "logical".into(),
    };
    assert_eq!(capture_setting_problem(&logical), None);
    assert_eq!(decide(None, true), Decision::Run);
    for (log_bin, format) in [("0", "ROW"), ("OFF", "MIXED"), ("1", "STATEMENT")] {
        let off = CaptureSettings::MySql {
            log_bin: log_bin.into(),
            binlog_format: format.into(),
        };
        let problem = capture_setting_problem(&off).expect("a problem");
        assert!(problem.contains("binlog_format = ROW"), "{problem}");
    }
    for log_bin in ["1", "ON"] {
        let on = CaptureSettings::MySql {
            log_bin: log_bin.into(),
            binlog_format: "ROW".into(),
        };
        assert_eq!(capture_setting_problem(&on), None);
    }
}
