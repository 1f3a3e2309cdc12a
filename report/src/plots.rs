//! SVG plots with plotters' SVG backend (no bitmap backend, no system fonts: text is
//! emitted as SVG `<text>` and drawn by the viewer). Per group (op, dtype, family:
//! [`Group`]) and harness: time against n, log-log, one line per path, each path in its
//! own colour everywhere. Call overhead: horizontal bars.

use crate::analysis::{groups, Group};
use crate::error::{ReportError, Result};
use crate::format::fmt_ns;
use crate::model::{Harness, Record, Results};
use crate::names::KNOWN_PATHS;
use crate::summary::{call_overhead, CALL_OVERHEAD_OP};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::path::Path;

fn plot_err(path: &Path) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Plot {
        path: path.to_path_buf(),
        message,
    }
}

/// Line colours, one per path of [`KNOWN_PATHS`] in order, so a path keeps its colour in
/// every plot: the Okabe & Ito (2008) colour-blind-safe palette, then Tableau 10's
/// remaining hues and darker variants.
const COLORS: &[RGBColor] = &[
    RGBColor(0, 0, 0),       // rust-native
    RGBColor(100, 100, 100), // rust-native-simd
    RGBColor(60, 60, 140),   // rust-native-par
    RGBColor(150, 150, 200), // rust-native-rayon
    RGBColor(90, 90, 90),    // rust-native-rowwise
    RGBColor(0, 114, 178),   // rust-cgo
    RGBColor(0, 60, 100),    // rust-cgo-par
    RGBColor(0, 158, 115),   // go
    RGBColor(0, 100, 70),    // go-unrolled
    RGBColor(120, 200, 160), // go-par
    RGBColor(140, 86, 75),   // cpu
    RGBColor(213, 94, 0),    // wasm-rust
    RGBColor(240, 150, 90),  // wasm-rust-nodeadline
    RGBColor(230, 159, 0),   // wasm-c
    RGBColor(204, 121, 167), // wasm-go
    RGBColor(90, 45, 10),    // wasm-cpp
    RGBColor(86, 180, 233),  // wasmtime-go
    RGBColor(148, 103, 189), // wazero-rust
    RGBColor(188, 189, 34),  // wazero-c
    RGBColor(23, 190, 207),  // wazero-go
    RGBColor(214, 39, 40),   // gpu-wgpu
    RGBColor(44, 160, 44),   // gpu-cuda
    RGBColor(60, 60, 60),    // rust-native-hist
    RGBColor(110, 110, 170), // rust-native-rayon-hist
    RGBColor(140, 20, 25),   // gpu-wgpu-hist
    RGBColor(20, 100, 20),   // gpu-cuda-hist
    RGBColor(152, 223, 138), // gpu-cuda-pinned
    RGBColor(255, 127, 14),  // gpu-wgpu-resident
    RGBColor(31, 119, 180),  // gpu-cuda-resident
    RGBColor(127, 127, 127), // gpu-cuda-tf32
    RGBColor(196, 156, 148), // wasi-gpu-cpu
    RGBColor(255, 152, 150), // wasi-gpu-wgpu
    RGBColor(174, 199, 232), // wasi-gpu-cuda
    RGBColor(197, 176, 213), // composed-gpu-cpu
    RGBColor(247, 182, 210), // composed-gpu-wgpu
    RGBColor(219, 219, 141), // composed-gpu-cuda
    RGBColor(120, 60, 20),   // wasm-cpp-wasi-gpu-cpu
    RGBColor(170, 90, 30),   // wasm-cpp-wasi-gpu-wgpu
    RGBColor(220, 130, 60),  // wasm-cpp-wasi-gpu-cuda
    RGBColor(250, 180, 110), // wasm-cpp-wasi-webgpu-wgpu
    RGBColor(60, 60, 140),   // wasm-rust-parallel-for
    RGBColor(140, 20, 60),   // gpu-wgpu-parallel-for
    RGBColor(158, 218, 229), // sklearn
    RGBColor(0, 100, 0),     // xgboost-rf-hist
    RGBColor(100, 160, 0),   // xgboost-rf-exact
    RGBColor(200, 200, 200), // -
];

/// The colour of a path: one per path of `KNOWN_PATHS`, from the Okabe & Ito palette.
pub fn path_color(path: &str) -> RGBColor {
    let i = KNOWN_PATHS
        .iter()
        .position(|p| *p == path)
        .unwrap_or(KNOWN_PATHS.len());
    COLORS[i % COLORS.len()]
}

fn series_label(r: &Record) -> String {
    match r.harness {
        Harness::Criterion => r.path.clone(),
        Harness::Go => format!("{} (Go host)", r.path),
        Harness::Sklearn => format!("{} (Python)", r.path),
    }
}

/// A labelled line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Line colour.
    pub color: RGBColor,
    /// (n, median ns) points, sorted by n.
    pub points: Vec<(f64, f64)>,
}

/// Width of the legend panel right of a line chart (pixels).
const LEGEND_W: u32 = 210;

/// Draws a log-log line chart of median time against n, with the legend in a panel on
/// the right so it never hides a line.
pub fn line_chart(file: &Path, title: &str, series: &[Series]) -> Result<()> {
    let err = plot_err(file);
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, 0.0f64, f64::INFINITY, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0.is_finite() && y0.is_finite() && x0 > 0.0 && y0 > 0.0) {
        return Err(err("no positive points to plot on log axes".into()));
    }
    let (w, h) = (960u32, 540u32);
    let root = SVGBackend::new(file, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (left, legend) = root.split_horizontally(w - LEGEND_W);
    let mut chart = ChartBuilder::on(&left)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x0 / 1.5..x1 * 1.5).log_scale(),
            (y0 / 1.5..y1 * 1.5).log_scale(),
        )
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("n (log)")
        .y_desc("median time per call (log)")
        .y_label_formatter(&|v| fmt_ns(*v))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for s in series {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(e.to_string()))?;
    }
    let style = ("sans-serif", 14)
        .into_font()
        .into_text_style(&legend)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, s) in series.iter().enumerate() {
        let y = 50 + 22 * i as i32;
        legend
            .draw(&PathElement::new(
                vec![(8, y), (34, y)],
                s.color.stroke_width(3),
            ))
            .map_err(|e| err(e.to_string()))?;
        legend
            .draw(&Text::new(s.label.clone(), (42, y), style.clone()))
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// Colour of the call-overhead bars.
const BAR_COLOR: RGBColor = RGBColor(0, 114, 178);

/// Draws horizontal bars (label, ns), the first on top, with the value written at its end.
pub fn bar_chart(file: &Path, title: &str, bars: &[(String, f64)]) -> Result<()> {
    let err = plot_err(file);
    if bars.is_empty() {
        return Err(err("no bars to draw".into()));
    }
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let height = 120 + 34 * bars.len() as u32;
    let root = SVGBackend::new(file, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let k = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(190)
        // A usize range includes its end: 0..k−1 gives k segments.
        .build_cartesian_2d(0.0..max * 1.25, (0..k - 1).into_segmented())
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("median time per call")
        .x_label_formatter(&|v| fmt_ns(*v))
        .y_labels(k)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < k => bars[k - 1 - i].0.clone(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(k - 1 - i)),
                    (*v, SegmentValue::Exact(k - i)),
                ],
                BAR_COLOR.filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        }))
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            Text::new(
                format!(" {}", fmt_ns(*v)),
                (*v, SegmentValue::CenterOf(k - 1 - i)),
                ("sans-serif", 14)
                    .into_font()
                    .into_text_style(&root)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// The plot key of a group and harness: the group stem ([`Group::stem`], `sum-f64-fast`)
/// for criterion, `<stem>-go` for the Go host, `<stem>-sklearn` for the scikit-learn peer
/// (which gets no plot of its own: its table sits under the Rust host's).
pub fn plot_key(group: &Group, harness: Harness) -> String {
    match harness {
        Harness::Criterion => group.stem(),
        Harness::Go => format!("{}-go", group.stem()),
        Harness::Sklearn => format!("{}-sklearn", group.stem()),
    }
}

/// Writes every plot of `results` into `dir` (created if needed) and returns a map from
/// plot key ([`plot_key`], or `call-overhead`) to the file's path relative to `dir`'s
/// parent (`plots/<key>.svg`), for [`crate::render::markdown`]. One line chart per
/// group (op, dtype, family) and harness; none where no path has two sizes (no line to draw; the
/// table has the numbers).
pub fn write_all(results: &Results, dir: &Path) -> Result<BTreeMap<String, String>> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    // Plots of an earlier rendering go: a group may have lost a harness since.
    for e in std::fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))? {
        let p = e.map_err(|e| ReportError::io(dir, e))?.path();
        if p.extension().is_some_and(|x| x == "svg") {
            std::fs::remove_file(&p).map_err(|e| ReportError::io(&p, e))?;
        }
    }
    let folder = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plots".into());
    let mut out = BTreeMap::new();
    for group in groups(results) {
        if group.op == CALL_OVERHEAD_OP {
            continue;
        }
        for harness in [Harness::Criterion, Harness::Go] {
            let mut series: BTreeMap<(usize, String), Series> = BTreeMap::new();
            for r in results
                .records
                .iter()
                .filter(|r| group.has(r) && r.harness == harness && r.n > 0 && r.median > 0.0)
            {
                let rank = KNOWN_PATHS
                    .iter()
                    .position(|p| *p == r.path)
                    .unwrap_or(KNOWN_PATHS.len());
                series
                    .entry((rank, r.path.clone()))
                    .or_insert_with(|| Series {
                        label: r.path.clone(),
                        color: path_color(&r.path),
                        points: Vec::new(),
                    })
                    .points
                    .push((r.n as f64, r.median));
            }
            let mut series: Vec<Series> = series.into_values().collect();
            for s in &mut series {
                s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            if !series.iter().any(|s| s.points.len() > 1) {
                continue;
            }
            let key = plot_key(&group, harness);
            let host = match harness {
                Harness::Criterion => "Rust host",
                Harness::Go => "Go host",
                Harness::Sklearn => "scikit-learn",
            };
            let file = dir.join(format!("{key}.svg"));
            line_chart(
                &file,
                &format!("{} — {host} — time vs n", group.title()),
                &series,
            )?;
            out.insert(key.clone(), format!("{folder}/{key}.svg"));
        }
    }
    let bars: Vec<(String, f64)> = call_overhead(results)
        .into_iter()
        .map(|r| (series_label(r), r.median))
        .collect();
    if !bars.is_empty() {
        let file = dir.join("call-overhead.svg");
        bar_chart(&file, "call overhead (empty export)", &bars)?;
        out.insert(
            "call-overhead".into(),
            format!("{folder}/call-overhead.svg"),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_colour_per_known_path() {
        assert_eq!(COLORS.len(), KNOWN_PATHS.len());
        assert_ne!(path_color("rust-native-par"), path_color("rust-native"));
    }
}
