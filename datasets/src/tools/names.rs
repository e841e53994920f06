//! Category names from folder names, with the rules the original used for Caltech-256:
//! `001.ak47` → `ak47` (the number and dot go), a trailing `-101` goes (`253.faces-easy-101` →
//! `faces easy`; those classes were taken over from Caltech-101), and `-` becomes a space
//! (`232.t-shirt` → `t shirt`), so the names read as words in the prompt templates.

use std::path::Path;

use super::error::ToolError;
use super::place::class_folders;

/// The category name of one folder name by the Caltech rules. Names without a numeric prefix
/// (ImageNet's `n01440764`) only go through the `-101` and `-` rules.
pub fn caltech_name(folder: &str) -> String {
    let name = match folder.split_once('.') {
        Some((number, rest)) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => folder,
    };
    let name = name.strip_suffix("-101").unwrap_or(name);
    name.replace('-', " ")
}

/// The names of `root`'s sub-folders, in sorted (ImageFolder label) order, by [`caltech_name`].
pub fn classnames_from_folders(root: &Path) -> Result<Vec<String>, ToolError> {
    let folders = class_folders(root)?;
    if folders.is_empty() {
        return Err(ToolError::TooFewClasses { root: root.to_owned(), found: 0, wanted: 1 });
    }
    Ok(folders.iter().map(|f| caltech_name(f)).collect())
}

/// Writes the names of `root`'s sub-folders to `out`, one per line (the format `--classnames`
/// reads), atomically; returns them.
pub fn write_classnames(root: &Path, out: &Path) -> Result<Vec<String>, ToolError> {
    let names = classnames_from_folders(root)?;
    let mut text = names.join("\n");
    text.push('\n');
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(ToolError::io(&tmp, "cannot write"))?;
    std::fs::rename(&tmp, out).map_err(ToolError::io(out, "cannot rename into place"))?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classnames::ClassNames;

    #[test]
    fn caltech_rules_give_the_published_list() {
        let list = ClassNames::resolve("caltech256").unwrap();
        let published = |line: usize| list.names()[line - 1].as_str();
        for (folder, line) in [
            ("001.ak47", 1),
            ("002.american-flag", 2),
            ("145.motorbikes-101", 145),
            ("232.t-shirt", 232),
            ("251.airplanes-101", 251),
            ("253.faces-easy-101", 253),
        ] {
            assert_eq!(caltech_name(folder), published(line), "{folder}");
        }
        assert_eq!(caltech_name("n01440764"), "n01440764");
        assert_eq!(caltech_name("v1.2-beta"), "v1.2 beta", "only a numeric prefix is stripped");
    }

    #[test]
    fn names_follow_sorted_folders_and_are_written_one_per_line() {
        let root = std::env::temp_dir().join(format!("lgd-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for f in ["010.golden-gate", "002.american-flag", "253.faces-easy-101"] {
            std::fs::create_dir_all(root.join("src").join(f)).unwrap();
        }
        std::fs::write(root.join("src/readme.txt"), "not a class").unwrap();
        let out = root.join("names.txt");
        write_classnames(&root.join("src"), &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "american flag\ngolden gate\nfaces easy\n");
        let e = write_classnames(&root.join("missing"), &out).unwrap_err().to_string();
        assert!(e.contains("missing: cannot read the source folder"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
