//! The four panels (loss parts, learning rate, throughput, validation) drawn with plotters into
//! an RGB buffer in memory, then written as PNG atomically so a viewer never sees half a file.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::records::Curves;
use super::PlotError;
use crate::atomic_file::write_atomically;

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

// Tableau 10, the matplotlib default cycle: distinct, and familiar to readers of PyTorch plots.
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(90, 90, 90);

/// One named curve of a panel.
struct Curve {
    label: &'static str,
    points: Vec<(f64, f64)>,
    color: RGBColor,
}

/// How a panel shows its values.
struct Panel<'a> {
    title: &'a str,
    y_label: &'a str,
    curves: Vec<Curve>,
    /// Fixed y range (fractions); otherwise fitted to the data.
    y_range: Option<Range<f64>>,
    /// Dots on each point: validation has few records, a line alone would hide them.
    dots: bool,
    format_y: fn(&f64) -> String,
}

/// Draws every panel; returns the RGB pixels, row-major, `width * height * 3` bytes.
pub(super) fn render(curves: &Curves, run_name: &str, width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let title = match curves.last_step() {
            Some(step) => format!("lgd run {run_name}, up to step {step}"),
            None => format!("lgd run {run_name}"),
        };
        let body = root.titled(&title, ("sans-serif", 30).into_font().color(&BLACK)).map_err(draw_error)?;
        // One step axis for every panel, so a moment in the run lines up across them.
        let steps = padded(all_steps(curves), 0.0).unwrap_or(0.0..1.0);
        let areas = body.split_evenly((2, 2));
        for (area, panel) in areas.iter().zip(panels(curves)) {
            draw_panel(area, &panel, steps.clone())?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(pixels)
}

/// The panels in reading order: loss, learning rate, throughput, validation.
fn panels(curves: &Curves) -> [Panel<'static>; 4] {
    let training = |label, pick: fn(&super::records::TrainingPoint) -> Option<f64>, color| Curve {
        label,
        points: curves.training_series(pick),
        color,
    };
    let validation = |label, pick: fn(&super::records::ValidationPoint) -> Option<f64>, color| Curve {
        label,
        points: curves.validation_series(pick),
        color,
    };
    [
        Panel {
            title: "Loss",
            y_label: "loss",
            curves: vec![
                training("loss", |p| p.loss, BLUE),
                training("image loss", |p| p.image_loss, ORANGE),
                training("text loss", |p| p.text_loss, GREEN),
            ],
            y_range: None,
            dots: false,
            format_y: short_number,
        },
        Panel {
            title: "Learning rate",
            y_label: "lr",
            curves: vec![training("lr", |p| p.lr, PURPLE)],
            y_range: None,
            dots: false,
            format_y: short_number,
        },
        Panel {
            title: "Throughput",
            y_label: "images / s",
            curves: vec![training("img/s", |p| p.images_per_second, RED)],
            y_range: None,
            dots: false,
            format_y: |v| format!("{v:.0}"),
        },
        Panel {
            title: "Validation",
            y_label: "fraction of images",
            curves: vec![
                validation("agreement", |p| p.agreement, BLUE),
                validation("student top-1", |p| p.student_top1, ORANGE),
                validation("teacher top-1", |p| p.teacher_top1, GREY),
            ],
            y_range: Some(0.0..1.0),
            dots: true,
            format_y: |v| format!("{:.0}%", v * 100.0),
        },
    ]
}

fn draw_panel(area: &Area, panel: &Panel, x_range: Range<f64>) -> Result<(), PlotError> {
    let curves: Vec<&Curve> = panel.curves.iter().filter(|c| !c.points.is_empty()).collect();
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let y_range = panel.y_range.clone().or_else(|| padded(values, 0.05)).unwrap_or(0.0..1.0);

    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(panel.y_label)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&panel.format_y)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(draw_error)?;

    if curves.is_empty() {
        let (w, h) = chart.plotting_area().dim_in_pixel();
        let style = ("sans-serif", 18).into_font().color(&GREY).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
        chart
            .plotting_area()
            .strip_coord_spec()
            .draw_text("no records yet", &style, (w as i32 / 2, h as i32 / 2))
            .map_err(draw_error)?;
        return Ok(());
    }
    for curve in &curves {
        let color = curve.color;
        let last = curve.points.last().map_or(String::new(), |p| format!(" (last {})", (panel.format_y)(&p.1)));
        chart
            .draw_series(LineSeries::new(curve.points.iter().copied(), color.stroke_width(2)))
            .map_err(draw_error)?
            .label(format!("{}{last}", curve.label))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
        if panel.dots {
            chart.draw_series(curve.points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(draw_error)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(draw_error)
}

/// Every step that has a record.
fn all_steps(curves: &Curves) -> impl Iterator<Item = f64> + '_ {
    curves.training.keys().chain(curves.validation.keys()).map(|&step| step as f64)
}

/// A tick or value label without noise: `0`, `2.5`, `0.08`, `1.5e-5`, `12000`.
fn short_number(v: &f64) -> String {
    let magnitude = v.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&magnitude) {
        let text = format!("{v:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{v:.1e}")
    }
}

/// `min..max` of `values` widened by `fraction` of the span each side; a flat series gets a
/// band around its value so the axis still has a scale.
fn padded(values: impl Iterator<Item = f64>, fraction: f64) -> Option<Range<f64>> {
    let (low, high) = values.fold(None, |range: Option<(f64, f64)>, v| match range {
        None => Some((v, v)),
        Some((low, high)) => Some((low.min(v), high.max(v))),
    })?;
    if high > low {
        let pad = (high - low) * fraction;
        Some(low - pad..high + pad)
    } else {
        let pad = if low == 0.0 { 1.0 } else { low.abs() * 0.1 };
        Some(low - pad..high + pad)
    }
}

/// Encodes RGB pixels as PNG and replaces `out` with it.
pub(super) fn write_png(out: &Path, pixels: &[u8], width: u32, height: u32) -> Result<(), PlotError> {
    let failed = |reason: String| PlotError::Write { path: out.to_owned(), reason };
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| failed(e.to_string()))?;
    writer.write_image_data(pixels).map_err(|e| failed(e.to_string()))?;
    writer.finish().map_err(|e| failed(e.to_string()))?;
    write_atomically(out, &bytes).map_err(|e| failed(e.to_string()))
}

fn draw_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::{padded, short_number};

    #[test]
    fn numbers_are_short() {
        let shown: Vec<String> = [0.0, 2.5, 0.08, 1.5e-5, 12000.0, 6.0, -0.25].iter().map(short_number).collect();
        assert_eq!(shown, ["0", "2.5", "0.08", "1.5e-5", "12000", "6", "-0.25"]);
    }

    #[test]
    fn ranges_are_padded_and_flat_series_get_a_scale() {
        assert_eq!(padded([1.0, 3.0].into_iter(), 0.05), Some(0.9..3.1));
        assert_eq!(padded([2.0, 2.0].into_iter(), 0.05), Some(1.8..2.2));
        assert_eq!(padded([0.0].into_iter(), 0.05), Some(-1.0..1.0));
        assert_eq!(padded(std::iter::empty(), 0.05), None);
    }
}
