//! CLIP's byte-level byte-pair encoding: the vocabulary built from `bpe_simple_vocab_16e6.txt.gz`
//! and the merge loop that turns one pre-token into vocabulary ids.
//!
//! Symbols are handled as vocabulary ids rather than strings: a symbol's id is the id of its
//! string, so pair ranks keyed by ids give the same merges as the reference's string pairs, without
//! allocating a string per merge step.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::tokenizer::TokenizerError;

/// The merges CLIP uses: the first 49,152 − 256 − 2 lines after the file's header line.
const MERGES_USED: usize = 49_152 - 256 - 2;
/// Marks a symbol that ends a word (part of the vocabulary strings).
const END_OF_WORD: &str = "</w>";

/// GPT-2/CLIP's reversible map from bytes to printable characters: printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100 onwards, so no byte becomes whitespace or a control.
/// Returned in the reference's order (printable bytes first), which is also the vocabulary's order.
pub fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table: Vec<(u8, char)> = (0..=255u8).filter(|&b| printable(b)).map(|b| (b, b as char)).collect();
    for (b, next) in (0..=255u8).filter(|&b| !printable(b)).zip(256u32..) {
        table.push((b, char::from_u32(next).expect("below U+0200")));
    }
    table
}

/// The vocabulary (49,408 entries with the two special tokens) and the merge ranks.
#[derive(Debug)]
pub struct Bpe {
    /// Vocabulary string → id; on a repeated string the later id wins, as in the reference.
    encoder: HashMap<String, u32>,
    /// Id of byte `b` inside a word and at its end (with `</w>`).
    byte_ids: [u32; 256],
    byte_end_ids: [u32; 256],
    /// (left id, right id) → (rank, id of the merged symbol). Lower rank merges first.
    merges: HashMap<(u32, u32), (u32, u32)>,
}

impl Bpe {
    /// Reads a gzip-compressed merges file and builds the vocabulary with `special` tokens appended.
    pub fn from_gz_file(path: &Path, special: &[&str]) -> Result<Self, TokenizerError> {
        let compressed = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TokenizerError::VocabMissing { path: path.into() }
            } else {
                TokenizerError::VocabRead { path: path.into(), source }
            }
        })?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_string(&mut text)
            .map_err(|source| TokenizerError::VocabRead { path: path.into(), source })?;
        Self::from_merges_text(&text, special).map_err(|(line, message)| TokenizerError::VocabFormat {
            path: path.into(),
            line,
            message,
        })
    }

    /// Builds the vocabulary from the merges file's text; errors carry a 1-based line number.
    fn from_merges_text(text: &str, special: &[&str]) -> Result<Self, (usize, String)> {
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < MERGES_USED + 1 {
            return Err((lines.len(), format!("expected at least {} merge lines after the header", MERGES_USED)));
        }
        let mut pairs = Vec::with_capacity(MERGES_USED);
        for (index, line) in lines[1..=MERGES_USED].iter().enumerate() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(left), Some(right), None) => pairs.push((left, right)),
                _ => return Err((index + 2, format!("expected two symbols, found `{line}`"))),
            }
        }

        let byte_chars = bytes_to_unicode();
        let mut vocab: Vec<String> = byte_chars.iter().map(|(_, c)| c.to_string()).collect();
        vocab.extend(byte_chars.iter().map(|(_, c)| format!("{c}{END_OF_WORD}")));
        vocab.extend(pairs.iter().map(|(left, right)| format!("{left}{right}")));
        vocab.extend(special.iter().map(|s| s.to_string()));
        let encoder: HashMap<String, u32> = vocab.into_iter().enumerate().map(|(id, s)| (s, id as u32)).collect();

        let mut byte_ids = [0u32; 256];
        let mut byte_end_ids = [0u32; 256];
        for (byte, c) in &byte_chars {
            byte_ids[*byte as usize] = encoder[&c.to_string()];
            byte_end_ids[*byte as usize] = encoder[&format!("{c}{END_OF_WORD}")];
        }
        let mut merges = HashMap::with_capacity(pairs.len());
        for (rank, (left, right)) in pairs.iter().enumerate() {
            // A pair whose parts are not vocabulary strings can never be formed; skip it.
            if let (Some(&l), Some(&r)) = (encoder.get(*left), encoder.get(*right)) {
                merges.insert((l, r), (rank as u32, encoder[&format!("{left}{right}")]));
            }
        }
        Ok(Self { encoder, byte_ids, byte_end_ids, merges })
    }

    /// Number of vocabulary ids (49,408 for CLIP with its two special tokens).
    pub fn vocab_size(&self) -> usize {
        self.encoder.values().map(|&id| id as usize + 1).max().unwrap_or(0)
    }

    /// The id of a whole vocabulary string (special tokens).
    pub fn id_of(&self, symbol: &str) -> Option<u32> {
        self.encoder.get(symbol).copied()
    }

    /// Appends the ids of one pre-token (a non-empty UTF-8 string) to `out`: its bytes become
    /// symbols, the last one marked end-of-word, then the lowest-ranked adjacent pair is merged
    /// everywhere (left to right, non-overlapping) until no ranked pair remains.
    pub fn encode_word(&self, word: &str, out: &mut Vec<u32>) {
        let bytes = word.as_bytes();
        let Some((&last, init)) = bytes.split_last() else { return };
        let mut symbols: Vec<u32> = init.iter().map(|&b| self.byte_ids[b as usize]).collect();
        symbols.push(self.byte_end_ids[last as usize]);
        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .filter_map(|pair| self.merges.get(&(pair[0], pair[1])).map(|&(rank, _)| (rank, (pair[0], pair[1]))))
                .min();
            let Some((_, (left, right))) = best else { break };
            let merged = self.merges[&(left, right)].1;
            let mut next = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == left && symbols[i + 1] == right {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(symbols[i]);
                    i += 1;
                }
            }
            symbols = next;
        }
        out.extend(symbols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_a_bijection_onto_printable_characters() {
        let table = bytes_to_unicode();
        assert_eq!(table.len(), 256);
        let mut bytes: Vec<u8> = table.iter().map(|(b, _)| *b).collect();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
        assert_eq!(table[0], (b'!', '!'));
        assert_eq!(table.iter().find(|(b, _)| *b == b' ').unwrap().1, '\u{120}'); // Ġ
        assert!(table.iter().all(|(_, c)| !c.is_whitespace() && !c.is_control()));
    }

    /// A toy merges file: header, then MERGES_USED lines (the used ones first).
    fn toy(merges: &[&str]) -> Bpe {
        let mut text = String::from("#version: toy\n");
        for m in merges {
            text.push_str(m);
            text.push('\n');
        }
        for i in 0..MERGES_USED - merges.len() {
            text.push_str(&format!("q{i} z\n"));
        }
        Bpe::from_merges_text(&text, &["<start_of_text>", "<end_of_text>"]).unwrap()
    }

    #[test]
    fn merges_apply_by_rank_and_non_overlapping() {
        let bpe = toy(&["a a", "aa a</w>", "b c</w>"]);
        let id = |s: &str| bpe.id_of(s).unwrap();
        let mut out = Vec::new();
        bpe.encode_word("aaa", &mut out); // a a a</w> → aa a</w> → aaa</w>
        assert_eq!(out, vec![id("aaa</w>")]);
        out.clear();
        bpe.encode_word("aaaa", &mut out); // a a a a</w> → aa a a</w>: (a, a) merged left to right only
        assert_eq!(out, vec![id("aa"), id("a"), id("a</w>")]);
        out.clear();
        bpe.encode_word("bc", &mut out);
        assert_eq!(out, vec![id("bc</w>")]);
        assert_eq!(bpe.vocab_size(), 512 + MERGES_USED + 2);
    }

    #[test]
    fn short_files_and_bad_lines_name_the_line() {
        assert_eq!(Bpe::from_merges_text("#v\na b\n", &[]).unwrap_err().0, 3);
        let mut text = String::from("#v\na b c\n");
        text.push_str(&"x y\n".repeat(MERGES_USED));
        assert_eq!(Bpe::from_merges_text(&text, &[]).unwrap_err().0, 2);
    }
}
