//! Language guidance for a supervised teacher: which of its classifier's classes stand in for each
//! category of the target task. LGD's text bank has one column per target category, built from the
//! category's name; a supervised teacher has no text tower, so a guidance list names, for each
//! target category, the teacher classes whose (normalised, averaged) classifier rows take the
//! place of the name's text embedding — as a CLIP bank averages a name's prompt embeddings.
//!
//! Format: one line per target category, in the dataset's class order,
//! `Category: teacher class; teacher class`; `#` starts a comment line.

use std::path::{Path, PathBuf};

use crate::classnames::ClassNames;

/// Built-in guidance lists.
const BUILTIN_GUIDANCE: &[(&str, &str)] =
    &[("fashion_mnist_imagenet", include_str!("../data/guidance/fashion_mnist_imagenet.txt"))];

/// Why a guidance list could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum GuidanceError {
    /// Neither built in nor a readable file.
    #[error("guidance `{name}` is neither a built-in list ({builtins}) nor a readable file: {source}")]
    NotFound {
        /// What was asked for.
        name: String,
        /// The built-in names.
        builtins: String,
        /// Why the file could not be read.
        source: std::io::Error,
    },
    /// A line without `category: classes`.
    #[error("{path}:{line}: expected `category: teacher class; teacher class`, found `{text}`")]
    Syntax {
        /// The list.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line.
        text: String,
    },
    /// A teacher class name that the teacher's class list does not have.
    #[error("{path}:{line}: `{name}` is not one of the teacher's class names")]
    UnknownClass {
        /// The list.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The name.
        name: String,
    },
    /// No category at all.
    #[error("{path}: no category")]
    Empty {
        /// The list.
        path: PathBuf,
    },
}

/// Target categories with the teacher classes that stand in for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guidance {
    origin: PathBuf,
    /// (category, teacher class names, 1-based line).
    entries: Vec<(String, Vec<String>, usize)>,
}

impl Guidance {
    /// A built-in list by name or else a file.
    pub fn resolve(spec: &str) -> Result<Self, GuidanceError> {
        if let Some((_, text)) = BUILTIN_GUIDANCE.iter().find(|(name, _)| *name == spec) {
            return Self::parse(text, Path::new(spec));
        }
        let text = std::fs::read_to_string(spec).map_err(|source| GuidanceError::NotFound {
            name: spec.to_owned(),
            builtins: BUILTIN_GUIDANCE.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            source,
        })?;
        Self::parse(&text, Path::new(spec))
    }

    /// Parses the list format (see the module documentation).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, GuidanceError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_text = line.trim();
            if line_text.is_empty() || line_text.starts_with('#') {
                continue;
            }
            let syntax = || GuidanceError::Syntax { path: origin.into(), line: index + 1, text: line_text.to_owned() };
            let (category, classes) = line_text.split_once(':').ok_or_else(syntax)?;
            let classes: Vec<String> =
                classes.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
            if category.trim().is_empty() || classes.is_empty() {
                return Err(syntax());
            }
            entries.push((category.trim().to_owned(), classes, index + 1));
        }
        if entries.is_empty() {
            return Err(GuidanceError::Empty { path: origin.into() });
        }
        Ok(Self { origin: origin.into(), entries })
    }

    /// The target categories, in order.
    pub fn categories(&self) -> Vec<&str> {
        self.entries.iter().map(|(c, _, _)| c.as_str()).collect()
    }

    /// For each category, the indices of its classes in the teacher's class list (`names`); a
    /// name the list repeats resolves to its first occurrence.
    pub fn indices(&self, names: &ClassNames) -> Result<Vec<Vec<usize>>, GuidanceError> {
        self.entries
            .iter()
            .map(|(_, classes, line)| {
                classes
                    .iter()
                    .map(|class| {
                        names.names().iter().position(|n| n == class).ok_or_else(|| GuidanceError::UnknownClass {
                            path: self.origin.clone(),
                            line: *line,
                            name: class.clone(),
                        })
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_fashion_mnist_list_resolves_against_imagenet_in_dataset_order() {
        let guidance = Guidance::resolve("fashion_mnist_imagenet").unwrap();
        let fashion = ClassNames::resolve("fashion_mnist").unwrap();
        assert_eq!(guidance.categories(), fashion.names().iter().map(String::as_str).collect::<Vec<_>>());
        let groups = guidance.indices(&ClassNames::resolve("imagenet").unwrap()).unwrap();
        assert_eq!(groups[0], vec![610]); // T-shirt
        assert_eq!(groups[2], vec![841, 474]); // sweatshirt, cardigan
        assert_eq!(groups[9], vec![514]); // cowboy boot
    }

    #[test]
    fn errors_name_the_line_at_fault() {
        let names = ClassNames::parse("cat\ndog\n", Path::new("n")).unwrap();
        let unknown = Guidance::parse("# pets\nfeline: cat\ncanine: dog; wolf\n", Path::new("g.txt")).unwrap();
        assert_eq!(
            unknown.indices(&names).unwrap_err().to_string(),
            "g.txt:3: `wolf` is not one of the teacher's class names"
        );
        let syntax = Guidance::parse("feline cat\n", Path::new("g.txt")).unwrap_err().to_string();
        assert!(syntax.starts_with("g.txt:1: expected"), "{syntax}");
        assert!(Guidance::parse("feline:\n", Path::new("g.txt")).is_err());
        assert!(matches!(Guidance::parse("# nothing\n", Path::new("g.txt")), Err(GuidanceError::Empty { .. })));
    }
}
