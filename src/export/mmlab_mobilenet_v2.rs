//! torchvision MobileNetV2 keys → the MobileNetV2 backbone layouts of mmdetection and
//! mmsegmentation (the same in mmdet 2.x/3.x and mmseg 0.x/1.x; checked against mmdet 3.3.0 and
//! mmseg 1.2.2 by tests/export_loads_in_mmdet_mmseg.rs).
//!
//! `features.0` → `conv1`; `features.18` (the last 1x1 conv to 1280) → `conv2` in mmdet, while
//! mmseg's network has no such layer (it ends at layer7). Inverted residuals `features.1..17` grouped into
//! layer1..7 as (1), (2–3), (4–6), (7–10), (11–13), (14–16), (17), indexed from 0 inside a layer. A
//! torchvision Conv-BN-ReLU6 unit `X.0`/`X.1` becomes `….conv`/`….bn`; a block's final projection is
//! a bare conv `conv.k` and BN `conv.k+1`. mmdet names the units `expand_conv` (absent for expansion
//! 1), `depthwise_conv`, `linear_conv`; mmseg numbers them `conv.0`, `conv.1`, `conv.2`.

/// Which library's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmLab {
    /// mmdetection.
    Detection,
    /// mmsegmentation.
    Segmentation,
}

/// First torchvision feature index of layer1..7, and one past the last.
const LAYER_STARTS: [usize; 8] = [1, 2, 4, 7, 11, 14, 17, 18];

fn layer_of(feature: usize) -> Option<(usize, usize)> {
    (0..7)
        .find(|&l| (LAYER_STARTS[l]..LAYER_STARTS[l + 1]).contains(&feature))
        .map(|l| (l + 1, feature - LAYER_STARTS[l]))
}

/// "weight" of a conv, or a BN's parameter/buffer name, after the conv/bn split.
fn unit(prefix: &str, part: &str, rest: &str) -> Option<String> {
    match part {
        "0" => Some(format!("{prefix}.conv.{rest}")),
        "1" => Some(format!("{prefix}.bn.{rest}")),
        _ => None,
    }
}

/// Maps one torchvision backbone key; `None` for keys the layout has no place for (the head, and
/// mmseg's missing `features.18`).
pub fn map_key(key: &str, layout: MmLab) -> Option<String> {
    let rest = key.strip_prefix("features.")?;
    let (feature, rest) = rest.split_once('.')?;
    let feature: usize = feature.parse().ok()?;
    if feature == 18 && layout == MmLab::Segmentation {
        return None;
    }
    if feature == 0 || feature == 18 {
        let (part, rest) = rest.split_once('.')?;
        return unit(if feature == 0 { "conv1" } else { "conv2" }, part, rest);
    }
    let (layer, index) = layer_of(feature)?;
    let rest = rest.strip_prefix("conv.")?;
    let (k, rest) = rest.split_once('.')?;
    let k: usize = k.parse().ok()?;
    // Expansion 1 only in features.1: units are [depthwise, project conv, project bn].
    let expands = feature != 1;
    let units = if expands {
        ["expand_conv", "depthwise_conv", "linear_conv"].as_slice()
    } else {
        &["depthwise_conv", "linear_conv"]
    };
    let project = units.len() - 1; // torchvision index of the projection conv
    let name = |u: usize| match layout {
        MmLab::Detection => format!("layer{layer}.{index}.{}", units[u]),
        MmLab::Segmentation => format!("layer{layer}.{index}.conv.{u}"),
    };
    if k < project {
        let (part, rest) = rest.split_once('.')?;
        unit(&name(k), part, rest)
    } else if k == project {
        Some(format!("{}.conv.{rest}", name(project)))
    } else if k == project + 1 {
        Some(format!("{}.bn.{rest}", name(project)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_examples_map_as_documented() {
        let det = |k| map_key(k, MmLab::Detection);
        let seg = |k| map_key(k, MmLab::Segmentation);
        assert_eq!(det("features.2.conv.1.0.weight").unwrap(), "layer2.0.depthwise_conv.conv.weight");
        assert_eq!(seg("features.2.conv.1.0.weight").unwrap(), "layer2.0.conv.1.conv.weight");
        assert_eq!(det("features.1.conv.1.weight").unwrap(), "layer1.0.linear_conv.conv.weight");
        assert_eq!(det("features.1.conv.2.running_var").unwrap(), "layer1.0.linear_conv.bn.running_var");
        assert_eq!(seg("features.1.conv.0.1.bias").unwrap(), "layer1.0.conv.0.bn.bias");
        assert_eq!(det("features.0.0.weight").unwrap(), "conv1.conv.weight");
        assert_eq!(det("features.18.1.num_batches_tracked").unwrap(), "conv2.bn.num_batches_tracked");
        assert_eq!(det("features.10.conv.0.0.weight").unwrap(), "layer4.3.expand_conv.conv.weight");
        assert_eq!(seg("features.17.conv.3.weight").unwrap(), "layer7.0.conv.2.bn.weight");
        assert_eq!(det("classifier.0.weight"), None);
        assert_eq!(seg("features.18.0.weight"), None, "mmseg's MobileNetV2 has no conv2");
    }
}
