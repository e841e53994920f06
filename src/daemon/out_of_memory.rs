//! What to change when training ran out of memory: libtorch's own message names bytes and
//! allocator state, not the config field that sets them.

use super::DaemonError;
use crate::config::{Autocast, Config, DeviceSpec};

/// Fragments of libtorch's allocation failures: the CUDA caching allocator's, cuBLAS's and
/// cuDNN's, and the CPU allocator's.
const SIGNS: [&str; 4] = ["out of memory", "ALLOC_FAILED", "not enough memory", "can't allocate memory"];

/// `error`, and when it is an allocation failure, the fields that would make the run fit and how
/// to go on from the last checkpoint with them.
pub(super) fn with_memory_hint(error: DaemonError, config: &Config) -> DaemonError {
    match memory_advice(&error.to_string(), config) {
        Some(advice) => DaemonError::OutOfMemory { error: Box::new(error), advice },
        None => error,
    }
}

/// What to change, when `message` says an allocation failed.
fn memory_advice(message: &str, config: &Config) -> Option<String> {
    if !SIGNS.iter().any(|sign| message.contains(sign)) {
        return None;
    }
    let precision = if config.precision.autocast == Autocast::Fp32 && matches!(config.run.device, DeviceSpec::Cuda(_)) {
        " or `precision.autocast = \"bf16\"` (fp32 now; half the activations)"
    } else {
        ""
    };
    Some(format!(
        "a smaller `data.batch_size` (now {}){precision} needs less; a start under another batch size \
         goes on from the last checkpoint with `lgd train --accept-changes`",
        config.data.batch_size
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    /// The run's error as the user reads it, for a failure that said `message`.
    fn error_line(message: String, config: &Config) -> String {
        let failure =
            lgd_actors::actor_error::ActorError::failed("student optimisation", std::io::Error::other(message));
        with_memory_hint(DaemonError::Actor(failure), config).to_string()
    }

    fn config(device: &str, autocast: &str) -> Config {
        let text = format!(
            "[run]\ndevice = \"{device}\"\n[data]\ntrain = \"train\"\nbatch_size = 96\n[student]\narch = \"resnet18\"\n\
             [teacher]\nkind = \"clip\"\nweights = \"RN50.pt\"\n[precision]\nautocast = \"{autocast}\"\n"
        );
        Config::parse(&text, std::path::Path::new("run.toml")).unwrap()
    }

    #[test]
    fn allocation_failures_name_the_batch_size_and_the_way_back() {
        // libtorch's CPU allocator, for real: 2^50 floats.
        let cpu = Tensor::f_empty([1 << 50], (Kind::Float, Device::Cpu)).map(|_| ()).unwrap_err().to_string();
        let hinted = error_line(cpu.clone(), &config("cpu", "fp32"));
        assert!(
            hinted.starts_with(&format!("student optimisation: {cpu} -- out of memory: "))
                && hinted.contains("`data.batch_size` (now 96)")
                && hinted.contains("--accept-changes"),
            "{hinted}"
        );
        assert!(!hinted.contains("bf16"), "no precision advice on a CPU: {hinted}");
        // The CUDA caching allocator's words (c10's OutOfMemoryError), under fp32 and fp16.
        let cuda =
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.80 GiB".to_owned();
        assert!(error_line(cuda.clone(), &config("cuda", "fp32")).contains("`precision.autocast = \"bf16\"`"));
        assert!(!error_line(cuda, &config("cuda", "fp16")).contains("bf16"));
        let other = "shape '[4, 8]' is invalid for input of size 3".to_owned();
        assert_eq!(error_line(other.clone(), &config("cpu", "fp32")), format!("student optimisation: {other}"));
    }
}
