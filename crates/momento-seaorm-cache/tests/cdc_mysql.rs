//! Change capture on MariaDB (the binary log in ROW format): writes made outside the library
//! invalidate cached reads (see `cdc_common`). Needs the `cdc-mysql` feature; `.ci/run` sets the
//! server up (`log_bin, binlog_format = ROW`).
#![cfg(feature = "cdc-mysql")]

mod cdc_common;
mod common;

use common::Db;

const KIND: Db = Db::MySql;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_connection_write_invalidates() {
    cdc_common::a_plain_connection_write_invalidates(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_client_write_invalidates() {
    cdc_common::a_command_line_client_write_invalidates(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_write_invalidates() {
    cdc_common::a_trigger_write_invalidates(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_delete_invalidates_the_child() {
    cdc_common::a_cascade_delete_invalidates_the_child(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_and_restarted_nothing_stale() {
    cdc_common::killed_mid_stream_and_restarted_nothing_stale(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_to_invalidation_lag() {
    cdc_common::commit_to_invalidation_lag(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_replication_rights_gets_a_clear_error() {
    cdc_common::a_user_without_replication_rights_gets_a_clear_error(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_name_is_refused() {
    cdc_common::a_bad_name_is_refused(KIND).await;
}

/// A server without the setting skips with the reason and the fix (fails with
/// REQUIRE_DATABASES=1): the decision, checked without restarting the server.
#[test]
fn a_server_not_set_up_for_change_capture_skips_with_the_fix() {
    cdc_common::setup::check_the_skip_decision();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_base_table_invalidates_the_views_over_it() {
    cdc_common::edges::a_write_to_a_base_table_invalidates_the_views_over_it(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_with_a_dot_in_its_name_is_invalidated() {
    cdc_common::edges::a_table_with_a_dot_in_its_name_is_invalidated(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_or_dropping_a_column_invalidates() {
    cdc_common::edges::adding_or_dropping_a_column_invalidates(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_swapped_in_by_renames_invalidates() {
    cdc_common::edges::a_table_swapped_in_by_renames_invalidates(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_logged_writes_with_modifiers_invalidate() {
    cdc_common::edges::statement_logged_writes_with_modifiers_invalidate(KIND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_to_invalidation_lag_under_load() {
    cdc_common::load::commit_to_invalidation_lag_under_load(KIND).await;
}
