//! `lgd check-config`: the config with every default filled in, then what `lgd train` would meet
//! on this machine. An input missing here is a warning (the config may be run elsewhere); one that
//! is here but unusable (a folder where a file belongs, unreadable) and a device this machine
//! lacks are what train would refuse: the first fails the check, the second warns.

use std::path::Path;
use std::process::ExitCode;

use lgd::config::Config;
use lgd_datasets::augment::PhotometricPlace;

/// Prints the resolved config and reports its inputs and device; exit 1 when an input is unusable.
pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(file)?;
    print!("{}", config.to_toml());
    let inputs = config.inputs_here();
    for input in &inputs.missing {
        tracing::warn!("{input}");
    }
    if let Some(why) = config.run.device.missing_here() {
        tracing::warn!("{why}");
    }
    let photometric = config.augmentation.photometric;
    let gpu = config.run.device.to_tch().is_cuda();
    tracing::info!(
        "augmentation.photometric = \"{}\": on the {} (run.device = {})",
        photometric.name(),
        if photometric.resolve(gpu) == PhotometricPlace::Device { "training device" } else { "decode workers" },
        config.run.device
    );
    for input in &inputs.unusable {
        tracing::error!("{input}");
    }
    if !inputs.unusable.is_empty() {
        tracing::error!(file = %file.display(), "config is valid, but lgd train would refuse the inputs above");
        return Ok(ExitCode::FAILURE);
    }
    let here = if inputs.missing.is_empty() {
        "every input it names is here"
    } else {
        "but inputs it names are missing here (see above)"
    };
    tracing::info!(file = %file.display(), scaled_lr = config.scaled_lr(), "config is valid, {here}");
    Ok(ExitCode::SUCCESS)
}
