//! HTML character references, decoded the two ways CLIP's text cleaning decodes them: Python's
//! `html.unescape` (the HTML5 rules, including references without a semicolon and the longest-prefix
//! rule) and ftfy's stricter pass (only references that end in `;`, plus upper-cased Latin names
//! such as `&EACUTE;`). Token ids depend on both, so both are reproduced exactly.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// `html.entities.html5`: name (with or without its `;`) → replacement text.
static HTML5: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    include_str!("html5_entities.tsv")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (name, hex) = line.split_once('\t').expect("html5_entities.tsv: name<TAB>code points");
            let value = hex
                .split(' ')
                .map(|h| char::from_u32(u32::from_str_radix(h, 16).expect("hex code point")).expect("scalar value"))
                .collect();
            (name, value)
        })
        .collect()
});

/// Python's `html._charref`: `&` then a decimal, a hex or a named reference, `;` optional.
static CHARREF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)").unwrap());

/// ftfy's `HTML_ENTITY_RE`: only references closed by `;`.
static FTFY_ENTITY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").unwrap());

/// ftfy's entity table: every `&name;` of HTML5, plus the upper-cased form of each all-lower-case
/// name when that form means nothing to `html.unescape` (`&EACUTE;` → `É`).
static FTFY_ENTITIES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut table = HashMap::new();
    for (name, value) in HTML5.iter() {
        if !name.ends_with(';') {
            continue;
        }
        table.insert(format!("&{name}"), value.clone());
        if *name == name.to_lowercase() {
            let upper = format!("&{}", name.to_uppercase());
            if python_unescape(&upper) == upper {
                table.insert(upper, value.to_uppercase());
            }
        }
    }
    table
});

/// Numeric references the HTML5 parser maps to something else (Windows-1252 for 0x80–0x9F).
fn invalid_charref(code: u64) -> Option<&'static str> {
    Some(match code {
        0x00 => "\u{FFFD}",
        0x0D => "\r",
        0x80 => "\u{20AC}",
        0x81 => "\u{81}",
        0x82 => "\u{201A}",
        0x83 => "\u{0192}",
        0x84 => "\u{201E}",
        0x85 => "\u{2026}",
        0x86 => "\u{2020}",
        0x87 => "\u{2021}",
        0x88 => "\u{02C6}",
        0x89 => "\u{2030}",
        0x8A => "\u{0160}",
        0x8B => "\u{2039}",
        0x8C => "\u{0152}",
        0x8D => "\u{8D}",
        0x8E => "\u{017D}",
        0x8F => "\u{8F}",
        0x90 => "\u{90}",
        0x91 => "\u{2018}",
        0x92 => "\u{2019}",
        0x93 => "\u{201C}",
        0x94 => "\u{201D}",
        0x95 => "\u{2022}",
        0x96 => "\u{2013}",
        0x97 => "\u{2014}",
        0x98 => "\u{02DC}",
        0x99 => "\u{2122}",
        0x9A => "\u{0161}",
        0x9B => "\u{203A}",
        0x9C => "\u{0153}",
        0x9D => "\u{9D}",
        0x9E => "\u{017E}",
        0x9F => "\u{0178}",
        _ => return None,
    })
}

/// Code points a numeric reference decodes to nothing (controls, non-characters).
fn dropped_code_point(code: u64) -> bool {
    matches!(code, 0x01..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF)
        || (code & 0xFFFE == 0xFFFE && code <= 0x10FFFF)
}

/// Parses digits that can be arbitrarily long; anything past the Unicode range is as good as
/// "too large" (Python's `int` never overflows, and every such value maps to U+FFFD).
fn parse_saturating(digits: &str, radix: u32) -> u64 {
    digits.chars().fold(0u64, |acc, d| {
        acc.saturating_mul(radix as u64).saturating_add(d.to_digit(radix).expect("regex-checked digit") as u64)
    })
}

fn replace_charref(reference: &str) -> String {
    if let Some(number) = reference.strip_prefix('#') {
        let number = number.trim_end_matches(';');
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => parse_saturating(hex, 16),
            None => parse_saturating(number, 10),
        };
        if let Some(replacement) = invalid_charref(code) {
            return replacement.to_owned();
        }
        if (0xD800..=0xDFFF).contains(&code) || code > 0x10FFFF {
            return "\u{FFFD}".to_owned();
        }
        if dropped_code_point(code) {
            return String::new();
        }
        return char::from_u32(code as u32).expect("checked range").to_string();
    }
    if let Some(value) = HTML5.get(reference) {
        return value.clone();
    }
    // The longest known prefix of at least two characters wins; the rest is kept as text.
    let boundaries: Vec<usize> = reference.char_indices().map(|(i, _)| i).skip(2).collect();
    for &end in boundaries.iter().rev() {
        if let Some(value) = HTML5.get(&reference[..end]) {
            return format!("{value}{}", &reference[end..]);
        }
    }
    format!("&{reference}")
}

/// Python's `html.unescape`.
pub fn python_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    CHARREF.replace_all(text, |caps: &Captures| replace_charref(&caps[1])).into_owned()
}

/// ftfy's `unescape_html`: `;`-terminated references only; a numeric reference is decoded only
/// when `html.unescape` consumes it whole.
pub fn ftfy_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    FTFY_ENTITY
        .replace_all(text, |caps: &Captures| {
            let reference = &caps[0];
            if let Some(value) = FTFY_ENTITIES.get(reference) {
                value.clone()
            } else if reference.starts_with("&#") {
                let decoded = python_unescape(reference);
                if decoded.contains(';') {
                    reference.to_owned()
                } else {
                    decoded
                }
            } else {
                reference.to_owned()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rules_for_named_and_numeric_references() {
        assert_eq!(python_unescape("fish &amp; chips"), "fish & chips");
        assert_eq!(python_unescape("&amp"), "&");
        assert_eq!(python_unescape("&ampx"), "&x"); // longest prefix `amp`
        assert_eq!(python_unescape("&notit;"), "¬it;");
        assert_eq!(python_unescape("&#39;&#x27;&#X41"), "''A");
        assert_eq!(python_unescape("&#128;&#0;&#1;&#xD800;&#99999999999999999999;"), "€\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(python_unescape("&nosuch; & x"), "&nosuch; & x");
        assert_eq!(python_unescape("&amp;amp;"), "&amp;");
    }

    #[test]
    fn ftfy_rules_need_the_semicolon_and_know_upper_case_latin() {
        assert_eq!(ftfy_unescape("&amp &amp;"), "&amp &");
        assert_eq!(ftfy_unescape("P&EACUTE;REZ"), "PÉREZ");
        assert_eq!(ftfy_unescape("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
        assert_eq!(ftfy_unescape("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "ñ Ñ Ñ &nTILDE;");
        assert_eq!(ftfy_unescape("&#65; &#65"), "A &#65");
    }
}
