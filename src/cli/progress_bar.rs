//! Progress bars of `lgd eval`: drawn on a terminal, hidden otherwise (logs and the results
//! file carry the figures).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` units of `unit`, prefixed with `what`.
pub fn bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let template = format!("{{prefix}} {{bar:30}} {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
    bar.set_prefix(what.to_owned());
    bar
}

/// A bar over images (feature extraction).
pub fn images_bar(len: u64, what: &str) -> ProgressBar {
    bar(len, what, "images")
}
