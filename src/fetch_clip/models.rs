//! The CLIP checkpoints OpenAI published, by name, and what an address tells about its file.
//!
//! OpenAI's addresses end in `<sha256>/<file>`: the folder is the SHA-256 of the file, which is
//! how OpenAI's own loader verifies a download. We keep only the addresses and read the hash off
//! them, so a table entry cannot disagree with itself.

use super::FetchError;

/// (name, address) for each published checkpoint. Names as OpenAI's `clip.available_models()`.
const PUBLISHED: &[(&str, &str)] = &[
    ("RN50", "https://openaipublic.azureedge.net/clip/models/afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt"),
    ("RN101", "https://openaipublic.azureedge.net/clip/models/8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599/RN101.pt"),
    ("RN50x4", "https://openaipublic.azureedge.net/clip/models/7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd/RN50x4.pt"),
    ("RN50x16", "https://openaipublic.azureedge.net/clip/models/52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa/RN50x16.pt"),
    ("RN50x64", "https://openaipublic.azureedge.net/clip/models/be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c/RN50x64.pt"),
    ("ViT-B/32", "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt"),
    ("ViT-B/16", "https://openaipublic.azureedge.net/clip/models/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt"),
    ("ViT-L/14", "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt"),
    ("ViT-L/14@336px", "https://openaipublic.azureedge.net/clip/models/3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt"),
];

/// One file to fetch: where from, what to call it, and the SHA-256 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The address (http or https).
    pub url: String,
    /// The file name: the address's last path segment.
    pub file_name: String,
    /// Lower-case hex SHA-256 of the file: the address's last-but-one path segment.
    pub sha256: String,
    /// The address's host, for errors about reaching it.
    pub host: String,
}

impl Source {
    /// Reads the file name, hash and host off an address shaped `scheme://host[:port]/…/<sha256>/<file>`.
    pub fn from_url(url: &str) -> Result<Self, FetchError> {
        let bad = |reason: &str| FetchError::BadAddress { url: url.to_owned(), reason: reason.to_owned() };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("it is neither http:// nor https://"))?;
        let (authority, path) = rest.split_once('/').ok_or_else(|| bad("it has no path"))?;
        // `[::1]:8080` keeps its brackets; `host:port` loses the port.
        let host = match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority.split(':').next().unwrap_or(authority),
        };
        let mut segments = path.rsplit('/');
        let file_name = segments.next().filter(|s| !s.is_empty()).ok_or_else(|| bad("it names no file"))?;
        let sha256 = segments.next().unwrap_or_default().to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the path segment before the file name is not a SHA-256 (64 hex digits)"));
        }
        Ok(Self { url: url.to_owned(), file_name: file_name.to_owned(), sha256, host: host.to_owned() })
    }
}

/// The published checkpoint called `name`: `ViT-B/32` or its file-name spelling `ViT-B-32`, any case.
pub fn lookup(name: &str) -> Result<Source, FetchError> {
    let wanted = canonical(name);
    let (_, url) = PUBLISHED
        .iter()
        .find(|(known, _)| canonical(known) == wanted)
        .ok_or_else(|| FetchError::UnknownModel { name: name.to_owned(), known: names().join(", ") })?;
    Source::from_url(url)
}

/// Every published name, in table order.
pub fn names() -> Vec<&'static str> {
    PUBLISHED.iter().map(|(name, _)| *name).collect()
}

/// `ViT-B/32`, `vit-b-32` and `ViT-B-32.pt` compare equal; `@` (of `@336px`) reads as `-`.
fn canonical(name: &str) -> String {
    let name = name.strip_suffix(".pt").unwrap_or(name);
    name.chars().map(|c| if c == '/' || c == '@' { '-' } else { c.to_ascii_lowercase() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_a_hash_and_its_own_file_name() {
        for name in names() {
            let source = lookup(name).unwrap();
            assert_eq!(source.sha256.len(), 64, "{name}");
            assert!(source.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
            assert_eq!(source.file_name, format!("{}.pt", name.replace(['/', '@'], "-")), "{name}");
            assert_eq!(source.host, "openaipublic.azureedge.net", "{name}");
        }
        let mut hashes: Vec<_> = names().iter().map(|n| lookup(n).unwrap().sha256).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), names().len(), "two models share a hash");
    }

    #[test]
    fn file_name_spellings_are_accepted() {
        assert_eq!(lookup("ViT-B-32").unwrap(), lookup("ViT-B/32").unwrap());
        assert_eq!(lookup("vit-l-14-336px.pt").unwrap(), lookup("ViT-L/14@336px").unwrap());
        assert_eq!(lookup("rn50x4").unwrap().file_name, "RN50x4.pt");
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let error = lookup("RN18").unwrap_err().to_string();
        assert!(error.contains("RN18") && error.contains("ViT-B/16") && error.contains("RN50x64"), "{error}");
    }

    #[test]
    fn addresses_without_a_hash_are_refused() {
        assert!(Source::from_url("https://example.org/clip/RN50.pt").is_err());
        assert!(Source::from_url("ftp://example.org/a/b").is_err());
        let local = Source::from_url(&format!("http://127.0.0.1:8080/x/{}/f.bin", "AB".repeat(32))).unwrap();
        assert_eq!((local.host.as_str(), local.file_name.as_str()), ("127.0.0.1", "f.bin"));
        assert_eq!(local.sha256, "ab".repeat(32));
    }
}
