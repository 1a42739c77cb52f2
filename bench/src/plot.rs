//! SVG pictures of the bench's figures, drawn with `plotters` (SVG backend only: no font files,
//! no system libraries, text left to the viewer's fonts).
//!
//! * [`lines_svg`] — values over time (seconds since the start of a run), one line per series,
//!   with time windows (the fault schedule) shaded as labelled vertical bands.
//! * [`xy_svg`] — values against any other quantity (a write rate), lines with point markers.
//!
//! Both draw a legend, give each series its own color (a fixed palette, in series order),
//! create the file's parent directories and report failures as `Err(text)`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One line: `(x, y)` points; in [`lines_svg`] x is seconds since the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    /// The legend's text.
    pub label: String,
    /// `(seconds since start, value)` in [`lines_svg`], `(x, y)` in [`xy_svg`].
    pub points: Vec<(f64, f64)>,
}

/// A span of time to shade (a fault), from `start_s` to `end_s` seconds since the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Written at the top of the band.
    pub label: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// The pictures' size in pixels.
const SIZE: (u32, u32) = (960, 540);

/// Series colors in order (Tableau 10), repeated past ten series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The fill of a window's band (drawn at [`BAND_OPACITY`]); no series uses it.
const BAND: RGBColor = RGBColor(250, 200, 60);
const BAND_OPACITY: f64 = 0.25;

/// Where the bench writes its pictures: `docs/img` of the workspace, or, for a `--quick` smoke
/// run (not a measurement), `bench-img` in the temporary directory, so that it never replaces
/// a measured picture.
pub fn img_dir(quick: bool) -> PathBuf {
    if quick {
        std::env::temp_dir().join("bench-img")
    } else {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
        bench.parent().unwrap_or(bench).join("docs/img")
    }
}

/// The texts around the plot area.
struct Texts<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
}

/// Draws `series` over time (x: seconds since start, from 0) into the SVG file `path`, with
/// `windows` shaded as labelled bands; `log_y` draws y on a log scale (points with y ≤ 0 are
/// then left out). Non-finite points are left out.
pub fn lines_svg(
    path: &Path,
    title: &str,
    y_label: &str,
    log_y: bool,
    series: &[TimeSeries],
    windows: &[Window],
) -> Result<(), String> {
    let series = drawable(series, log_y);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ends = windows.iter().flat_map(|w| [w.start_s, w.end_s]);
    let x = padded(bounds(xs.chain(ends).chain([0.0])), 0.0);
    let texts = Texts {
        title,
        x_label: "seconds since start",
        y_label,
    };
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = bounds(ys);
    if log_y {
        let (lo, hi) = if lo > 0.0 { (lo, hi) } else { (1.0, 10.0) };
        let y = (lo / 1.5..hi * 1.5).log_scale();
        draw(path, &texts, (x, y), (&series, windows), false)
    } else {
        draw(
            path,
            &texts,
            (x, y_range(lo, hi)),
            (&series, windows),
            false,
        )
    }
}

/// Draws `series` against a quantity other than time into the SVG file `path`: lines with a
/// marker at each point.
pub fn xy_svg(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[TimeSeries],
) -> Result<(), String> {
    let series = drawable(series, false);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let x = padded(bounds(xs), 0.03);
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = bounds(ys);
    let texts = Texts {
        title,
        x_label,
        y_label,
    };
    draw(path, &texts, (x, y_range(lo, hi)), (&series, &[]), true)
}

/// `series` without the points that cannot be drawn (non-finite; y ≤ 0 on a log scale).
fn drawable(series: &[TimeSeries], log_y: bool) -> Vec<TimeSeries> {
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    series
        .iter()
        .map(|s| TimeSeries {
            label: s.label.clone(),
            points: s.points.iter().copied().filter(keep).collect(),
        })
        .collect()
}

/// The smallest and largest of `values`, `(0, 1)` if there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// `lo..hi` widened by `share` of its span on each side (by 1 if it is a single value).
fn padded((lo, hi): (f64, f64), share: f64) -> Range<f64> {
    if hi > lo {
        let pad = (hi - lo) * share;
        lo - pad..hi + pad
    } else {
        lo - 1.0..hi + 1.0
    }
}

/// A linear y range: from 0 when the values are non-negative and the lowest is under half the
/// highest, otherwise the values' range padded by 5%; 5% headroom above for the legend.
fn y_range(lo: f64, hi: f64) -> Range<f64> {
    let from_zero = lo >= 0.0 && lo < hi / 2.0;
    let r = padded((if from_zero { 0.0 } else { lo }, hi), 0.05);
    let start = if from_zero { 0.0 } else { r.start };
    start..r.end
}

fn err(e: impl std::fmt::Display) -> String {
    format!("plot: {e}")
}

/// Draws the chart: mesh, bands, lines (with markers when `markers`), legend.
fn draw<Y>(
    path: &Path,
    texts: &Texts<'_>,
    (x, y): (Range<f64>, Y),
    (series, windows): (&[TimeSeries], &[Window]),
    markers: bool,
) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(texts.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(texts.x_label)
        .y_desc(texts.y_label)
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let Range {
        start: y_lo,
        end: y_hi,
    } = chart.y_range();
    for w in windows {
        let band = Rectangle::new(
            [(w.start_s, y_lo), (w.end_s, y_hi)],
            BAND.mix(BAND_OPACITY).filled(),
        );
        let label = EmptyElement::at((w.start_s, y_hi))
            + Text::new(w.label.clone(), (4, 4), ("sans-serif", 13));
        chart.draw_series([band]).map_err(err)?;
        chart.draw_series([label]).map_err(err)?;
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // With markers, earlier lines are wider and their markers larger, so that a line
        // hidden under a later, equal one still shows.
        let later = (series.len() - 1 - i).min(4) as u32;
        let (width, radius) = if markers {
            (2 + later, 4 + 2 * later)
        } else {
            (2, 0)
        };
        let line = LineSeries::new(s.points.iter().copied(), color.stroke_width(width));
        chart
            .draw_series(line)
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        if markers {
            let dots = s
                .points
                .iter()
                .map(|&p| Circle::new(p, radius, color.filled()));
            chart.draw_series(dots).map_err(err)?;
        }
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(if markers {
                SeriesLabelPosition::LowerLeft
            } else {
                SeriesLabelPosition::UpperRight
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own under the temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bench-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn series(label: &str, f: impl Fn(f64) -> f64) -> TimeSeries {
        let points = (0..60).map(|i| (f64::from(i), f(f64::from(i)))).collect();
        TimeSeries {
            label: label.into(),
            points,
        }
    }

    fn band_count(svg: &str) -> usize {
        let fill = format!(
            "opacity=\"{BAND_OPACITY}\" fill=\"#{:02X}{:02X}{:02X}\"",
            BAND.0, BAND.1, BAND.2
        );
        svg.matches(&fill).count()
    }

    fn draws_labels_and_a_band_per_window(log_y: bool) {
        let dir = scratch(if log_y { "log" } else { "linear" });
        // A parent that does not exist yet: lines_svg makes it.
        let path = dir.join("nested/p99.svg");
        let lines = [
            series("p99 cached", |t| 2.0 + (t / 7.0).sin()),
            series("p99 uncached", |t| 40.0 + t),
        ];
        let windows = [
            Window {
                label: "momento-lite stopped".into(),
                start_s: 10.0,
                end_s: 20.0,
            },
            Window {
                label: "invalidator killed".into(),
                start_s: 35.0,
                end_s: 45.0,
            },
        ];
        lines_svg(&path, "p99 over time", "ms", log_y, &lines, &windows).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in ["p99 over time", "ms", "seconds since start"] {
            assert!(svg.contains(text), "{text} missing");
        }
        for label in lines
            .iter()
            .map(|s| &s.label)
            .chain(windows.iter().map(|w| &w.label))
        {
            assert!(svg.contains(label.as_str()), "{label} missing");
        }
        assert_eq!(band_count(&svg), windows.len());
        // One line per series plus one legend sample each.
        assert!(svg.matches("<polyline").count() >= 2 * lines.len());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn lines_svg_draws_labels_and_a_band_per_window() {
        draws_labels_and_a_band_per_window(false);
    }

    #[test]
    fn lines_svg_on_a_log_scale_draws_labels_and_a_band_per_window() {
        draws_labels_and_a_band_per_window(true);
    }

    #[test]
    fn xy_svg_draws_a_marker_per_point_and_no_band() {
        let dir = scratch("xy");
        let path = dir.join("hit.svg");
        let rates = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0];
        let line = |label: &str, drop: f64| TimeSeries {
            label: label.into(),
            points: rates.iter().map(|&r| (r, 1.0 - drop * r)).collect(),
        };
        let lines = [line("int", 0.01), line("uuid", 0.012), line("string", 0.02)];
        xy_svg(&path, "hit ratio", "writes (%)", "hit ratio", &lines).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in ["hit ratio", "writes (%)", "int", "uuid", "string"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(svg.matches("<circle").count(), rates.len() * lines.len());
        assert_eq!(band_count(&svg), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ranges_cover_the_values() {
        assert_eq!(bounds([3.0, -1.0, 2.0].into_iter()), (-1.0, 3.0));
        assert_eq!(bounds(std::iter::empty()), (0.0, 1.0));
        let r = y_range(0.2, 1.0);
        assert!(r.start == 0.0 && (r.end - 1.05).abs() < 1e-9, "{r:?}");
        let r = y_range(0.8, 1.0);
        assert!(r.start < 0.8 && r.start > 0.7 && r.end > 1.0, "{r:?}");
        assert_eq!(padded((5.0, 5.0), 0.1), 4.0..6.0);
    }
}
