//! Where each backbone tensor goes in the output layout, and which architectures a layout takes.
//! torchvision and safetensors keep torchvision's names for every student. mmdetection 3.x and
//! mmsegmentation 1.x build ResNets with torchvision's names (`conv1`, `bn1`, `layerN.M.convK`,
//! `downsample.0/1`), so those pass unchanged; their MobileNetV2 has a layout of its own
//! (`mmlab_mobilenet_v2`). Their other backbones share no layout with a torchvision student.

use super::mmlab_mobilenet_v2::{map_key, MmLab};
use super::ExportFormat;
use crate::models::student::StudentArch;

/// How one format lays out one architecture's backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// torchvision's own names.
    Torchvision,
    /// mmdet/mmseg `ResNet(depth=…)`: torchvision's names inside `{"state_dict": …}`.
    MmlabResNet,
    /// mmdet/mmseg `MobileNetV2`.
    MmlabMobileNetV2(MmLab),
}

/// What becomes of one backbone tensor.
#[derive(Debug, PartialEq, Eq)]
pub enum Fate {
    /// Written under this name.
    Written(String),
    /// Not part of the target's network; the reason, for the log.
    LeftOut(&'static str),
    /// The layout has no place for it (a mapping that does not cover the architecture).
    Unmapped,
}

impl Layout {
    /// The layout of `format` for `arch`; `None` where the target library has no such backbone.
    pub fn of(format: ExportFormat, arch: StudentArch) -> Option<Self> {
        let library = match format {
            ExportFormat::Torchvision | ExportFormat::Safetensors => return Some(Self::Torchvision),
            ExportFormat::Mmdet => MmLab::Detection,
            ExportFormat::Mmseg => MmLab::Segmentation,
        };
        match arch {
            StudentArch::Resnet18 | StudentArch::Resnet34 | StudentArch::Resnet50 => Some(Self::MmlabResNet),
            StudentArch::MobilenetV2 => Some(Self::MmlabMobileNetV2(library)),
            StudentArch::EfficientnetB0 | StudentArch::MobilenetV3Large => None,
        }
    }

    /// Where `key` (a torchvision backbone name) goes.
    pub fn fate(self, key: &str) -> Fate {
        match self {
            Self::Torchvision | Self::MmlabResNet => Fate::Written(key.to_owned()),
            Self::MmlabMobileNetV2(library) => {
                if library == MmLab::Segmentation && key.starts_with("features.18.") {
                    return Fate::LeftOut(
                        "mmsegmentation's MobileNetV2 ends at layer7 (320 channels), without torchvision's last 1x1 conv to 1280 (features.18)",
                    );
                }
                map_key(key, library).map_or(Fate::Unmapped, Fate::Written)
            }
        }
    }

    /// What the layout expects, for an error about a key it cannot place.
    pub fn expectation(self) -> &'static str {
        match self {
            Self::Torchvision => "torchvision's names",
            Self::MmlabResNet => "torchvision's ResNet names (conv1, bn1, layer1-4)",
            Self::MmlabMobileNetV2(_) => {
                "torchvision's MobileNetV2 names: features.0 (stem), features.1-17 (inverted residuals), features.18 (last conv)"
            }
        }
    }
}

/// The Python line that loads an exported file as the target library does; `file` is the output.
pub fn load_line(format: ExportFormat, arch: StudentArch, file: &str, head_kept: bool) -> String {
    let name = arch.torchvision_name();
    let classifier = arch.head_prefix();
    let tensors = match format {
        ExportFormat::Safetensors => format!("safetensors.torch.load_file('{file}')"),
        _ => format!("torch.load('{file}', weights_only=True)"),
    };
    match format {
        ExportFormat::Torchvision | ExportFormat::Safetensors => {
            let state = if head_kept {
                format!("{{k: v for k, v in {tensors}.items() if not k.startswith('lgd_head.')}}")
            } else {
                tensors
            };
            format!("m = torchvision.models.{name}(); m.{classifier} = torch.nn.Identity(); m.load_state_dict({state})")
        }
        ExportFormat::Mmdet | ExportFormat::Mmseg => {
            let backbone = match arch {
                StudentArch::Resnet18 => "type='ResNet', depth=18".to_owned(),
                StudentArch::Resnet34 => "type='ResNet', depth=34".to_owned(),
                StudentArch::Resnet50 => "type='ResNet', depth=50".to_owned(),
                _ => "type='MobileNetV2'".to_owned(),
            };
            let config = format!("backbone=dict({backbone}, init_cfg=dict(type='Pretrained', checkpoint='{file}'))");
            if head_kept {
                format!("{config}; the head: torch.load('{file}', weights_only=True)['lgd_head']")
            } else {
                config
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmseg_mobilenet_v2_has_no_last_conv_and_mmdet_keeps_it() {
        let seg = Layout::of(ExportFormat::Mmseg, StudentArch::MobilenetV2).unwrap();
        let det = Layout::of(ExportFormat::Mmdet, StudentArch::MobilenetV2).unwrap();
        assert!(matches!(seg.fate("features.18.0.weight"), Fate::LeftOut(_)));
        assert_eq!(det.fate("features.18.0.weight"), Fate::Written("conv2.conv.weight".into()));
        assert_eq!(seg.fate("features.17.conv.3.weight"), Fate::Written("layer7.0.conv.2.bn.weight".into()));
        assert_eq!(seg.fate("features.19.0.weight"), Fate::Unmapped);
    }

    #[test]
    fn resnets_keep_torchvision_names_and_other_students_do_not_fit_mmlab() {
        let layout = Layout::of(ExportFormat::Mmdet, StudentArch::Resnet50).unwrap();
        assert_eq!(
            layout.fate("layer3.2.downsample.1.running_var"),
            Fate::Written("layer3.2.downsample.1.running_var".into())
        );
        assert_eq!(Layout::of(ExportFormat::Mmseg, StudentArch::EfficientnetB0), None);
        assert_eq!(Layout::of(ExportFormat::Torchvision, StudentArch::MobilenetV3Large), Some(Layout::Torchvision));
    }

    #[test]
    fn load_lines_say_where_a_kept_head_is() {
        let mm = load_line(ExportFormat::Mmdet, StudentArch::MobilenetV2, "m.pth", true);
        assert!(mm.ends_with("the head: torch.load('m.pth', weights_only=True)['lgd_head']"), "{mm}");
        let tv = load_line(ExportFormat::Torchvision, StudentArch::Resnet18, "r.pth", true);
        assert!(tv.contains("if not k.startswith('lgd_head.')"), "{tv}");
        assert!(!load_line(ExportFormat::Mmseg, StudentArch::Resnet50, "r.pth", false).contains("head"));
    }
}
