//! `lgd`'s CLIP tokenizer gives exactly open_clip's token ids: on every built-in class name inside
//! every OpenAI ImageNet template (≈229k prompts), and on strings chosen to exercise the text
//! cleaning, the pre-tokenizer and the BPE (accents, CJK, emoji, contractions, whitespace, HTML
//! references, width and ligature forms, controls, special-token look-alikes, overlong prompts).
//! The vocabulary comes from `make setup` (.cache/clip/); a missing file fails the test.

mod support;

use std::collections::HashMap;

use lgd::models::clip::html_unescape::python_unescape;
use lgd::models::clip::{ClipTokenizer, Overflow, CONTEXT_LENGTH};
use lgd::tensor_io::read_safetensors;
use lgd_datasets::classnames::{ClassNames, Templates};

const CLASS_LISTS: &[&str] =
    &["ade20k", "caltech256", "cityscapes", "coco", "fashion_mnist", "imagenet", "lvis", "oxford_pets"];

/// Strings where a tokenizer written from a reading of the reference could go wrong.
const AWKWARD: &[&str] = &[
    "",
    " ",
    "café",
    "naïve façade",
    "Ångström",
    "crème brûlée",
    "São Paulo",
    "Zürich",
    "e\u{301}te\u{301}",
    "東京タワー",
    "北京烤鸭",
    "한국어 텍스트",
    "日本語のテキスト",
    "हिन्दी नमस्ते",
    "ภาษาไทย สวัสดี",
    "שלום",
    "مرحبا ٣٤",
    "🐶 dog",
    "👩‍👩‍👧 family",
    "🇫🇷 flag",
    "❤️ love",
    "a 🍕🍕🍕 pizza",
    "it's",
    "IT'S",
    "we're they've I'm you'll he'd don't",
    "it’s “quoted”",
    "rock 'n' roll",
    "it'ſ",
    "  many   spaces\t\ttabs\n\nnewlines  ",
    "\u{3000}ideographic\u{3000}space",
    "nbsp\u{a0}here",
    "a\u{1c}b\u{1f}c",
    "line\r\nbreaks\u{2028}and\u{2029}more",
    "fish &amp; chips",
    "&amp;amp;",
    "&lt;b&gt; bold",
    "&#39;quoted&#39;",
    "&eacute;t&eacute;",
    "&notit;",
    "P&EACUTE;REZ",
    "BUNDESSTRA&SZLIG;E",
    "a <b> &ldquo;x&rdquo; &amp;",
    "&ampx",
    "&#128;&#x9f;",
    "&#0;&#1;&#xD800;",
    "&ldquo;y&rdquo;",
    "first &amp; line\nsecond <tag> &amp;\nthird &eacute;",
    "ﬁsh ﬂower ﬀ",
    "Ĳssel ǅ",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ１２３！",
    "ｶﾀｶﾅ",
    "İstanbul",
    "ΣΊΣΥΦΟΣ ΟΔΟΣ",
    "straße STRASSE",
    "\u{1b}[31mred\u{1b}[0m",
    "zero\u{200b}width",
    "bom\u{feff}here",
    "c1\u{85}control",
    "x\u{80}y\u{81}z",
    "del\u{7f}ete",
    "<start_of_text>",
    "a photo of a <end_of_text>",
    "<START_OF_TEXT> x",
    "<ſtart_of_text>",
    "<start_of_text",
    "1234567890",
    "3.14159",
    "v2.0-beta_rc1",
    "Ⅻ roman ①②③ x² ½",
    "\u{345} iota",
    "a\u{345}b",
    "snake_case and kebab-case",
    "quotes \"double\" 'single'",
    "tab\tseparated",
    "ends with space ",
    "Mixed CASE With Acronyms like NASA and iPhone",
    "!!!???...",
    "@user #hashtag $100 %50",
];

/// Ids of group `name` as the oracle wrote them: per string, encode() ids and the [77] context.
fn oracle_group(dir: &std::path::Path, name: &str) -> (Vec<Vec<u32>>, Vec<Vec<i64>>) {
    let file = read_safetensors(&dir.join(format!("{name}.safetensors"))).unwrap();
    let ids = Vec::<i32>::try_from(&file.tensors["ids"]).unwrap();
    let offsets = Vec::<i64>::try_from(&file.tensors["offsets"]).unwrap();
    let context = Vec::<i32>::try_from(&file.tensors["context"].reshape([-1])).unwrap();
    let encoded = offsets.windows(2).map(|w| ids[w[0] as usize..w[1] as usize].iter().map(|&i| i as u32).collect());
    let contexts = context.chunks(CONTEXT_LENGTH).map(|row| row.iter().map(|&i| i as i64).collect());
    (encoded.collect(), contexts.collect())
}

/// Compares one group; returns (strings, ids) compared.
fn compare(tokenizer: &ClipTokenizer, dir: &std::path::Path, name: &str, texts: &[String]) -> (usize, usize) {
    let (encoded, contexts) = oracle_group(dir, name);
    assert_eq!(encoded.len(), texts.len(), "{name}: oracle returned a different number of strings");
    let mut mismatches = Vec::new();
    let mut ids = 0;
    for ((text, expected), expected_context) in texts.iter().zip(&encoded).zip(&contexts) {
        let got = tokenizer.encode(text);
        let got_context = tokenizer.tokenize(text, Overflow::Truncate).unwrap();
        if &got != expected || &got_context != expected_context {
            mismatches.push(format!("{text:?}: lgd {got:?}, open_clip {expected:?}"));
        }
        ids += expected.len();
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} of {} strings differ, e.g.\n{}",
        mismatches.len(),
        texts.len(),
        mismatches.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    (texts.len(), ids)
}

#[test]
fn token_ids_equal_open_clip_on_all_prompts_and_awkward_strings() {
    let tokenizer = ClipTokenizer::load(None).unwrap();
    assert_eq!(tokenizer.vocab_size(), 49_408);
    let templates = Templates::resolve("openai_imagenet").unwrap();
    let mut prompts = Vec::new();
    for list in CLASS_LISTS {
        for name in ClassNames::resolve(list).unwrap().names() {
            prompts.extend(templates.render(name));
        }
    }
    let mut awkward: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
    awkward.push("a ".repeat(100)); // 102 ids with start and end: truncated by open_clip
    awkward.push(format!("{} end", "word ".repeat(74))); // exactly 77 with start and end

    let dir = support::scratch("clip-tokenizer");
    let request = serde_json::json!({ "groups": { "prompts": &prompts, "awkward": &awkward } });
    std::fs::write(dir.join("in.json"), request.to_string()).unwrap();
    support::run_oracle("clip_tokenizer_oracle.py", &[&dir.join("in.json"), &dir]);

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    for (group, changed) in report["fix_encoding_changes"].as_object().unwrap() {
        assert_eq!(changed.as_array().unwrap().len(), 0, "{group}: inputs ftfy would repair as mojibake: {changed}");
    }
    let html5: HashMap<String, String> = serde_json::from_value(report["html5"].clone()).unwrap();
    for (name, value) in &html5 {
        assert_eq!(&python_unescape(&format!("&{name}")), value, "HTML5 entity &{name}");
    }

    let (prompt_strings, prompt_ids) = compare(&tokenizer, &dir, "prompts", &prompts);
    let (awkward_strings, awkward_ids) = compare(&tokenizer, &dir, "awkward", &awkward);
    println!(
        "open_clip tokenizer: equal ids on {prompt_strings} class-name prompts ({prompt_ids} ids) and \
         {awkward_strings} awkward strings ({awkward_ids} ids); {} HTML5 entities decode alike",
        html5.len()
    );

    // Longer than the context: an error by default, naming the prompt.
    let long = "a ".repeat(100);
    let err = tokenizer.tokenize(&long, Overflow::Error).unwrap_err().to_string();
    assert!(err.contains("102 tokens") && err.contains("context length 77"), "{err}");
    assert!(tokenizer.tokenize(&format!("{} end", "word ".repeat(74)), Overflow::Error).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
