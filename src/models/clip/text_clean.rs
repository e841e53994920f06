//! The text cleaning CLIP applies before byte-level BPE (open_clip's `clean="lower"`):
//! `ftfy.fix_text`, `html.unescape` twice, whitespace folding, lower-casing. The same words must
//! reach the BPE as in the reference, or the text bank silently changes.
//!
//! What of ftfy 6.3's default `fix_text` is reproduced: the segmentation at line breaks and the rule
//! that turns HTML unescaping off from the first segment containing `<`; and, repeated until the
//! text stops changing, its `unescape_html`, `fix_c1_controls`, `fix_latin_ligatures`,
//! `fix_character_width`, `uncurl_quotes`, `fix_line_breaks`, `remove_terminal_escapes`,
//! `remove_control_chars` and NFC normalisation. `fix_surrogates` has no counterpart (a Rust string
//! cannot hold a surrogate).
//!
//! Not reproduced: `fix_encoding`, ftfy's mojibake repair (e.g. `sÃ³` → `só`). It acts only on text
//! its `badness` heuristic flags as mis-decoded UTF-8; class names and prompts are typed text, and
//! the oracle test checks that none of its inputs is such text. Mojibake therefore reaches the BPE
//! as written, where open_clip would first repair it.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::html_unescape::{ftfy_unescape, python_unescape};

/// ftfy processes text in pieces of at most this many characters (its `max_decode_length`).
const MAX_SEGMENT_CHARS: usize = 1_000_000;

/// ANSI terminal escapes, as ftfy's `ANSI_RE`.
static ANSI_ESCAPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\x1b\[((?:\d|;)*)([a-zA-Z])").unwrap());

/// Python's `str.isspace`: Unicode `White_Space` plus the ASCII separators U+001C–U+001F.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// open_clip's cleaning for CLIP: ftfy, HTML unescaping (twice), folded whitespace, lower case.
pub fn clean_lower(text: &str) -> String {
    let fixed = ftfy_fix_text(text);
    let unescaped = python_unescape(&python_unescape(&fixed));
    let folded: Vec<&str> = unescaped.split(is_python_space).filter(|w| !w.is_empty()).collect();
    folded.join(" ").to_lowercase()
}

/// The reproduced part of `ftfy.fix_text` with its default configuration (see the module docs).
pub fn ftfy_fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape_html = true;
    let mut rest = text;
    while !rest.is_empty() {
        // Up to and including the next line break, capped at MAX_SEGMENT_CHARS characters.
        let mut end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        if let Some((cap, _)) = rest[..end].char_indices().nth(MAX_SEGMENT_CHARS) {
            end = cap;
        }
        let segment = &rest[..end];
        if segment.contains('<') {
            unescape_html = false; // ftfy keeps it off for the remaining segments too
        }
        out.push_str(&fix_segment(segment, unescape_html));
        rest = &rest[end..];
    }
    out
}

/// ftfy's fixer loop over one segment: apply every fixer in order until nothing changes.
fn fix_segment(segment: &str, unescape_html: bool) -> String {
    let mut text = segment.to_owned();
    loop {
        let before = text.clone();
        if unescape_html {
            text = ftfy_unescape(&text);
        }
        text = text.chars().map(c1_as_windows_1252).collect();
        text = text.chars().flat_map(expand_ligature).collect();
        text = text.chars().flat_map(normal_width).collect();
        text = text.chars().map(uncurl_quote).collect();
        text = fix_line_breaks(&text);
        text = ANSI_ESCAPE.replace_all(&text, "").into_owned();
        text.retain(|c| !is_removed_control(c));
        text = text.nfc().collect();
        if text == before {
            return text;
        }
    }
}

/// C1 controls (U+0080–U+009F) read as the Windows-1252 bytes they most likely were; the five
/// bytes Windows-1252 leaves undefined stay as they are ("sloppy" Windows-1252).
fn c1_as_windows_1252(c: char) -> char {
    const TABLE: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
        '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}',
        '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}',
        '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    match c {
        '\u{80}'..='\u{9F}' => TABLE[c as usize - 0x80],
        _ => c,
    }
}

/// ftfy's `LIGATURES`: Latin typographic ligatures and digraphs spelt out.
fn expand_ligature(c: char) -> Vec<char> {
    let expansion = match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return vec![c],
    };
    expansion.chars().collect()
}

/// ftfy's `WIDTH_MAP`: half- and full-width forms (U+FF01–U+FFEF) to their NFKC form, and the
/// ideographic space to a space.
fn normal_width(c: char) -> Vec<char> {
    match c {
        '\u{3000}' => vec![' '],
        '\u{FF01}'..='\u{FFEF}' => std::iter::once(c).nfkc().collect(),
        _ => vec![c],
    }
}

/// ftfy's `uncurl_quotes`.
fn uncurl_quote(c: char) -> char {
    match c {
        '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
        '\u{201C}'..='\u{201F}' => '"',
        _ => c,
    }
}

/// ftfy's `fix_line_breaks`: every line-break convention becomes `\n`.
fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// ftfy's `CONTROL_CHARS`: controls that are almost always accidents.
fn is_removed_control(c: char) -> bool {
    matches!(
        c,
        '\u{00}'..='\u{08}'
            | '\u{0B}'
            | '\u{0E}'..='\u{1F}'
            | '\u{7F}'
            | '\u{206A}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFC}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_folds_whitespace_unescapes_and_lowers() {
        assert_eq!(clean_lower("  A  Photo\tof\n\nthe &amp;amp;  Thing  "), "a photo of the & thing");
        assert_eq!(clean_lower("“it’s”"), "\"it's\"");
        assert_eq!(clean_lower("ﬁsh ＡＢＣ\u{3000}x"), "fish abc x");
        assert_eq!(clean_lower("e\u{301}t\u{e9}"), "\u{e9}t\u{e9}"); // NFC
        assert_eq!(clean_lower("\u{1b}[31mred\u{1b}[0m\u{feff}"), "red");
        assert_eq!(clean_lower("a\u{85}b"), "a…b"); // C1 NEL is read as Windows-1252 first
    }

    #[test]
    fn a_segment_with_markup_stops_ftfy_unescaping_but_not_html_unescape() {
        // ftfy leaves `&ldquo;` alone after `<`, so the curly quote from html.unescape survives.
        assert_eq!(clean_lower("<b> &ldquo;"), "<b> \u{201c}");
        assert_eq!(clean_lower("&ldquo;x"), "\"x");
    }
}
