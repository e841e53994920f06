//! `lgd bank` at the binary edge.

use anyhow::Context;
use lgd::config::DeviceSpec;

/// `lgd bank`: reuse a cached bank for the same (teacher, names, templates), else compute it.
pub fn run(
    teacher: &std::path::Path,
    classnames: &str,
    templates: &str,
    out: &std::path::Path,
    batch: usize,
    device: DeviceSpec,
) -> anyhow::Result<()> {
    use lgd::models::clip::prompt_bank::{cache_key, cached_bank, compute_text_bank, save_with_key};
    use lgd::models::clip::{Clip, ClipTokenizer, LoadOptions};
    use lgd_datasets::classnames::{ClassNames, Templates};

    let names = ClassNames::resolve(classnames)?;
    let templates = Templates::resolve(templates)?;
    for (name, classes) in names.duplicates() {
        tracing::warn!(%name, ?classes, "class name repeated: those bank columns will be identical");
    }
    let key = cache_key(teacher, &names, &templates)?;
    if cached_bank(out, &key, names.len()).is_some() {
        tracing::info!(out = %out.display(), "text bank is up to date for this teacher, names and templates");
        return Ok(());
    }
    let clip = Clip::load(teacher, LoadOptions { device: device.to_tch(), ..Default::default() })?;
    let tokenizer = ClipTokenizer::load(None)?;
    let total = names.len() * templates.templates().len();
    let bar = indicatif::ProgressBar::new(total as u64).with_message("prompts embedded");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({eta} left)")
            .context("progress bar template")?,
    );
    let bank = compute_text_bank(&clip, &tokenizer, &names, &templates, batch, |done, _| {
        bar.set_position(done as u64);
        std::ops::ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    save_with_key(&bank, out, &key)?;
    tracing::info!(out = %out.display(), classes = bank.classes(), dim = bank.dim(), "text bank written");
    Ok(())
}
