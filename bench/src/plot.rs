//! STUB (bench-service branch): replaced by the plotting helper's `plot.rs` at merge.

use std::path::Path;

/// One line of a plot: (seconds since start, value) points.
pub struct TimeSeries {
    /// The legend's label.
    pub label: String,
    /// (seconds since start, value).
    pub points: Vec<(f64, f64)>,
}

/// A shaded time window (a fault).
pub struct Window {
    /// The window's label.
    pub label: String,
    /// Start, seconds since start.
    pub start_s: f64,
    /// End, seconds since start.
    pub end_s: f64,
}

/// Draws `series` as lines over time with `windows` shaded into an SVG at `path`.
pub fn lines_svg(
    path: &Path,
    title: &str,
    y_label: &str,
    log_y: bool,
    series: &[TimeSeries],
    windows: &[Window],
) -> Result<(), String> {
    let _ = (path, title, y_label, log_y, series, windows);
    Ok(())
}
