//! `lgd fetch-clip` at the binary edge.

/// `lgd fetch-clip`: the published checkpoint (or the `--url` one), unless already there and verified.
pub fn run(model: Option<&str>, url: Option<&str>, out: &std::path::Path) -> anyhow::Result<()> {
    use lgd::fetch_clip::{fetch, lookup, Source};
    let source = match (url, model) {
        (Some(url), _) => Source::from_url(url)?,
        (None, Some(model)) => lookup(model)?,
        (None, None) => anyhow::bail!("name a model (or --url)"),
    };
    let fetched = fetch(&source, out)?;
    let path = fetched.path.display();
    if fetched.already_present {
        tracing::info!("{path} is already present with the published SHA-256 {}; nothing to do", source.sha256);
    } else {
        tracing::info!(
            bytes = fetched.bytes,
            resumed_from = fetched.resumed_from,
            "{path} downloaded; SHA-256 {} verified",
            source.sha256
        );
    }
    Ok(())
}
