//! The documents' fenced blocks, and the command lines of their `sh` blocks as a shell reads them.

use super::*;

/// The documents whose commands must run: the README and every guide in `docs/`.
pub(crate) fn documents() -> Vec<PathBuf> {
    let root = support::root();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    docs
}

/// A fenced block of one of the documents: its language, first line number and text.
pub(crate) struct Block {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) lang: String,
    pub(crate) text: String,
}

pub(crate) fn blocks() -> Vec<Block> {
    let root = support::root();
    let mut blocks = Vec::new();
    for path in documents() {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut open: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            let fence = line.trim_start().strip_prefix("```");
            match (fence, open.take()) {
                (Some(lang), None) => {
                    open =
                        Some(Block { file: file.clone(), line: n + 2, lang: lang.trim().into(), text: String::new() })
                }
                (Some(_), Some(block)) => blocks.push(block),
                (None, Some(mut block)) => {
                    block.text.push_str(line);
                    block.text.push('\n');
                    open = Some(block);
                }
                (None, None) => {}
            }
        }
        assert!(open.is_none(), "{file}: a code fence is never closed");
    }
    blocks
}

/// The command lines of a shell block: comments cut, continuations joined, blank lines dropped.
pub(crate) fn command_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw);
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head.trim());
            pending.push(' ');
            continue;
        }
        pending.push_str(line.trim());
        let joined = std::mem::take(&mut pending).trim().to_owned();
        if !joined.is_empty() {
            lines.push(joined);
        }
    }
    lines
}

/// A line without its `# comment` (a `#` at the start or after a blank, outside quotes).
pub(crate) fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return &line[..i],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Every documented command line, with the places that show it.
pub(crate) fn documented_commands() -> BTreeMap<String, Vec<String>> {
    let mut commands: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in blocks().iter().filter(|b| b.lang == "sh") {
        for line in command_lines(&block.text) {
            commands.entry(line).or_default().push(format!("{}:{}", block.file, block.line));
        }
    }
    commands
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-`/`_` dropped.
pub(crate) fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
