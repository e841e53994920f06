//! The device a run trains on, written `cpu`, `cuda` or `cuda:N` as in PyTorch.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::value_error::ValueError;

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The host CPU.
    Cpu,
    /// CUDA device N (`cuda` means device 0).
    Cuda(usize),
}

impl DeviceSpec {
    /// The tch device.
    pub fn to_tch(self) -> tch::Device {
        match self {
            Self::Cpu => tch::Device::Cpu,
            Self::Cuda(index) => tch::Device::Cuda(index),
        }
    }
}

impl DeviceSpec {
    /// Why this device cannot be used in this process, naming `run.device` (a config without it
    /// means `cuda:0`); `None` when it is here.
    pub fn missing_here(self) -> Option<String> {
        let Self::Cuda(index) = self else { return None };
        let seen = tch::Cuda::device_count();
        ((index as i64) >= seen).then(|| {
            format!(
                "run.device: cuda:{index}, but this process sees {seen} CUDA device(s) (see `lgd info`); a config \
                 without run.device trains on cuda:0: set run.device = \"cpu\" to train on the CPU"
            )
        })
    }
}

impl FromStr for DeviceSpec {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|index| index.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| ValueError::Device(other.to_owned())),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = ValueError;
    fn try_from(text: String) -> Result<Self, ValueError> {
        text.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(device: DeviceSpec) -> String {
        device.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pytorch_spellings() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceSpec::Cuda(3)));
        assert!("gpu".parse::<DeviceSpec>().unwrap_err().to_string().contains("`gpu` is not a device"));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }
}
