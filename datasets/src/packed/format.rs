//! The on-disk layout of `index.lgdpack`, the one file that makes a folder of shards a dataset.
//!
//! All integers little-endian. The index is written once, atomically, after every shard is on
//! disk, so a folder either has a complete index or none.
//!
//! ```text
//! header (64 bytes)
//!   0  magic "LGDPACK\0"        8  version u32        12 encoding u32 (0 original, 1 JPEG 4:4:4,
//!                                                         2 JPEG 4:2:0)
//!   16 max_side u32 (0 = none)  20 quality u32        24 classes u32      28 shards u32
//!   32 samples u64              40 body_len u64       48 body_crc u32 (CRC-32 of the body)
//!   52 reserved (8 zero bytes)  60 header_crc u32 (CRC-32 of bytes 0..60)
//! body
//!   classes × (len u32, UTF-8 name)
//!   shards  × (len u32, UTF-8 file name, size u64)
//!   zero padding to a multiple of 8 (from the start of the file)
//!   samples × record (40 bytes): shard u32, label u32, offset u64, length u32, crc u32,
//!                                path_offset u64, path_len u32, reserved u32
//!   path blob: the samples' original relative paths, UTF-8, back to back
//! ```
//!
//! Records are fixed-size so the reader finds sample `i` in the mapped index without parsing or
//! copying the table (1.28 M ImageNet records are 51 MB that stay in the page cache, not the heap).

use std::path::Path;

use super::error::PackError;

/// File name of the index inside a packed dataset folder.
pub const INDEX_FILE: &str = "index.lgdpack";
/// First eight bytes of every index.
pub const MAGIC: &[u8; 8] = b"LGDPACK\0";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 64;
/// Size of one sample record.
pub const RECORD_LEN: usize = 40;

/// How the samples' bytes were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The source files' bytes, unchanged.
    Original,
    /// Decoded, shrunk to a maximum side if asked, and re-encoded as baseline JPEG.
    Jpeg {
        /// Longest side after resizing (0 = kept).
        max_side: u32,
        /// JPEG quality 1..=100.
        quality: u8,
        /// Resolution of the colour planes.
        chroma: Chroma,
    },
}

/// Resolution of a re-encoded JPEG's colour (Cb, Cr) planes against its luma plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// Half the width and half the height (sampling factors 2×2, 1×1, 1×1): what cameras,
    /// ImageNet's photos and FFCV (through OpenCV) write; about a third smaller than 4:4:4 at
    /// the same quality, for colour detail the eye (and a 224² training view) barely keeps.
    Yuv420,
    /// Full resolution (1×1 for every plane): the packs written before 4:2:0 became the default.
    Yuv444,
}

impl std::fmt::Display for Chroma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Chroma::Yuv420 => "4:2:0",
            Chroma::Yuv444 => "4:4:4",
        })
    }
}

impl Encoding {
    fn to_fields(self) -> (u32, u32, u32) {
        match self {
            Encoding::Original => (0, 0, 0),
            // Code 1 is what every pack written before the chroma choice holds (they were 4:4:4).
            Encoding::Jpeg { max_side, quality, chroma: Chroma::Yuv444 } => (1, max_side, u32::from(quality)),
            Encoding::Jpeg { max_side, quality, chroma: Chroma::Yuv420 } => (2, max_side, u32::from(quality)),
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoding::Original => write!(f, "original bytes"),
            Encoding::Jpeg { max_side: 0, quality, chroma } => write!(f, "JPEG quality {quality}, {chroma} chroma"),
            Encoding::Jpeg { max_side, quality, chroma } => {
                write!(f, "JPEG quality {quality}, max side {max_side}, {chroma} chroma")
            }
        }
    }
}

/// One shard as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// File name inside the dataset folder.
    pub file: String,
    /// Size in bytes when the pack finished.
    pub size: u64,
}

/// One sample's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Shard number (position in the shard table).
    pub shard: u32,
    /// Class index.
    pub label: u32,
    /// First byte in the shard.
    pub offset: u64,
    /// Number of bytes.
    pub length: u32,
    /// CRC-32 of the bytes.
    pub crc: u32,
    /// Start of the original path in the path blob.
    pub path_offset: u64,
    /// Length of the original path.
    pub path_len: u32,
}

impl Record {
    /// Little-endian bytes as stored.
    pub fn to_bytes(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..4].copy_from_slice(&self.shard.to_le_bytes());
        b[4..8].copy_from_slice(&self.label.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..20].copy_from_slice(&self.length.to_le_bytes());
        b[20..24].copy_from_slice(&self.crc.to_le_bytes());
        b[24..32].copy_from_slice(&self.path_offset.to_le_bytes());
        b[32..36].copy_from_slice(&self.path_len.to_le_bytes());
        b
    }

    /// Reads a record from its stored bytes (`b` is exactly [`RECORD_LEN`] long).
    pub fn from_bytes(b: &[u8]) -> Self {
        Record {
            shard: u32_at(b, 0),
            label: u32_at(b, 4),
            offset: u64_at(b, 8),
            length: u32_at(b, 16),
            crc: u32_at(b, 20),
            path_offset: u64_at(b, 24),
            path_len: u32_at(b, 32),
        }
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Everything an index holds besides the records and paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMeta {
    /// How samples were encoded.
    pub encoding: Encoding,
    /// Class names; a label indexes this list.
    pub classes: Vec<String>,
    /// Shard files in shard-number order.
    pub shards: Vec<ShardInfo>,
}

/// Serialises a complete index: header, classes, shards, records, paths.
pub fn encode_index(meta: &IndexMeta, samples: &[(Record, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for name in &meta.classes {
        push_str(&mut body, name);
    }
    for shard in &meta.shards {
        push_str(&mut body, &shard.file);
        body.extend_from_slice(&shard.size.to_le_bytes());
    }
    while !(HEADER_LEN + body.len()).is_multiple_of(8) {
        body.push(0);
    }
    let mut path_offset = 0u64;
    for (record, path) in samples {
        let record = Record { path_offset, path_len: path.len() as u32, ..*record };
        body.extend_from_slice(&record.to_bytes());
        path_offset += path.len() as u64;
    }
    for (_, path) in samples {
        body.extend_from_slice(path.as_bytes());
    }
    let (encoding, max_side, quality) = meta.encoding.to_fields();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    for v in [VERSION, encoding, max_side, quality, meta.classes.len() as u32, meta.shards.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(samples.len() as u64).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    let header_crc = crc32fast::hash(&out[..60]);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A checked index: its metadata and where the records and paths start in the file.
#[derive(Debug, Clone)]
pub struct ParsedIndex {
    /// Encoding, classes, shards.
    pub meta: IndexMeta,
    /// Number of samples.
    pub samples: usize,
    /// Byte offset of the first record.
    pub records_at: usize,
    /// Byte offset of the path blob.
    pub paths_at: usize,
}

/// Checks magic, version and both CRCs, parses classes and shards, and checks that every record
/// points inside its shard (as recorded), at a known class, and at a path inside the blob — so the
/// reader can index the mapped table without further checks.
pub fn parse_index(bytes: &[u8], path: &Path) -> Result<ParsedIndex, PackError> {
    let malformed = |what: String| PackError::Malformed { path: path.to_owned(), what };
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(PackError::BadMagic { path: path.to_owned() });
    }
    let stored = u32_at(bytes, 60);
    let computed = crc32fast::hash(&bytes[..60]);
    if stored != computed {
        return Err(PackError::IndexChecksum { path: path.to_owned(), part: "header", stored, computed });
    }
    let version = u32_at(bytes, 8);
    if version != VERSION {
        return Err(PackError::UnsupportedVersion { path: path.to_owned(), found: version, supported: VERSION });
    }
    let body_len = u64_at(bytes, 40);
    if body_len != (bytes.len() - HEADER_LEN) as u64 {
        return Err(malformed(format!("body is {} bytes, the header says {body_len}", bytes.len() - HEADER_LEN)));
    }
    let body = &bytes[HEADER_LEN..];
    let (stored, computed) = (u32_at(bytes, 48), crc32fast::hash(body));
    if stored != computed {
        return Err(PackError::IndexChecksum { path: path.to_owned(), part: "body", stored, computed });
    }
    let encoding = match (u32_at(bytes, 12), u32_at(bytes, 16), u32_at(bytes, 20)) {
        (0, _, _) => Encoding::Original,
        (1, max_side, quality @ 1..=100) => Encoding::Jpeg { max_side, quality: quality as u8, chroma: Chroma::Yuv444 },
        (2, max_side, quality @ 1..=100) => Encoding::Jpeg { max_side, quality: quality as u8, chroma: Chroma::Yuv420 },
        (e, _, q) => return Err(malformed(format!("unknown encoding {e} (quality {q})"))),
    };
    let (n_classes, n_shards) = (u32_at(bytes, 24) as usize, u32_at(bytes, 28) as usize);
    let n_samples = usize::try_from(u64_at(bytes, 32)).map_err(|_| malformed("sample count overflows".into()))?;
    let mut at = HEADER_LEN;
    let read_str = |at: &mut usize, what: &str| -> Result<String, PackError> {
        let len = bytes.get(*at..*at + 4).map(|b| u32_at(b, 0) as usize);
        let text = len.and_then(|len| bytes.get(*at + 4..*at + 4 + len));
        let text = text.ok_or_else(|| malformed(format!("{what} runs past the end")))?;
        *at += 4 + text.len();
        String::from_utf8(text.to_vec()).map_err(|_| malformed(format!("{what} is not UTF-8")))
    };
    let mut classes = Vec::with_capacity(n_classes.min(1 << 20));
    for c in 0..n_classes {
        classes.push(read_str(&mut at, &format!("class name {c}"))?);
    }
    let mut shards = Vec::with_capacity(n_shards.min(1 << 20));
    for s in 0..n_shards {
        let file = read_str(&mut at, &format!("shard name {s}"))?;
        if file.contains('/') || file.contains('\\') || file == ".." {
            return Err(malformed(format!("shard name {s} `{file}` is not a plain file name")));
        }
        let size = bytes.get(at..at + 8).map(|b| u64_at(b, 0));
        let size = size.ok_or_else(|| malformed(format!("shard {s} size runs past the end")))?;
        at += 8;
        shards.push(ShardInfo { file, size });
    }
    let records_at = at.div_ceil(8) * 8;
    let paths_at = n_samples
        .checked_mul(RECORD_LEN)
        .and_then(|n| n.checked_add(records_at))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| malformed(format!("{n_samples} records run past the end")))?;
    let blob_len = (bytes.len() - paths_at) as u64;
    for i in 0..n_samples {
        let r = Record::from_bytes(&bytes[records_at + i * RECORD_LEN..][..RECORD_LEN]);
        let shard = shards
            .get(r.shard as usize)
            .ok_or_else(|| malformed(format!("record {i}: shard {} of {n_shards}", r.shard)))?;
        if r.offset.checked_add(u64::from(r.length)).is_none_or(|end| end > shard.size) {
            return Err(malformed(format!(
                "record {i}: bytes {}+{} lie outside shard {} ({} bytes)",
                r.offset, r.length, shard.file, shard.size
            )));
        }
        if r.label as usize >= n_classes {
            return Err(malformed(format!("record {i}: label {} of {n_classes} classes", r.label)));
        }
        if r.path_offset.checked_add(u64::from(r.path_len)).is_none_or(|end| end > blob_len) {
            return Err(malformed(format!("record {i}: path outside the path blob")));
        }
    }
    Ok(ParsedIndex { meta: IndexMeta { encoding, classes, shards }, samples: n_samples, records_at, paths_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Vec<u8> {
        let meta = IndexMeta {
            encoding: Encoding::Jpeg { max_side: 256, quality: 90, chroma: Chroma::Yuv420 },
            classes: vec!["cat".into(), "dog".into()],
            shards: vec![ShardInfo { file: "shard-00000.bin".into(), size: 30 }],
        };
        let r = |offset, length, label| Record { shard: 0, label, offset, length, crc: 7, path_offset: 0, path_len: 0 };
        encode_index(&meta, &[(r(0, 10, 0), "cat/a.jpg"), (r(10, 20, 1), "dog/b.png")])
    }

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let bytes = example();
        let p = parse_index(&bytes, Path::new("i")).unwrap();
        assert_eq!(p.samples, 2);
        assert_eq!(p.meta.classes, ["cat", "dog"]);
        assert_eq!(p.meta.encoding, Encoding::Jpeg { max_side: 256, quality: 90, chroma: Chroma::Yuv420 });
        assert_eq!(p.records_at % 8, 0);
        let second = Record::from_bytes(&bytes[p.records_at + RECORD_LEN..][..RECORD_LEN]);
        assert_eq!(
            (second.offset, second.length, second.label, second.path_offset, second.path_len),
            (10, 20, 1, 9, 9)
        );
        assert_eq!(&bytes[p.paths_at + 9..p.paths_at + 18], b"dog/b.png");
        // Flipping any single byte is detected, by magic, header CRC or body CRC.
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(parse_index(&bad, Path::new("i")).is_err(), "byte {at} flipped went unnoticed");
        }
        let e = parse_index(&bytes[..bytes.len() - 1], Path::new("idx")).unwrap_err();
        assert!(e.to_string().starts_with("idx: malformed index: body is"), "{e}");
    }

    #[test]
    fn records_pointing_outside_their_shard_are_refused() {
        let meta = IndexMeta {
            encoding: Encoding::Original,
            classes: vec!["a".into()],
            shards: vec![ShardInfo { file: "s".into(), size: 5 }],
        };
        let r = Record { shard: 0, label: 0, offset: 3, length: 3, crc: 0, path_offset: 0, path_len: 0 };
        let e = parse_index(&encode_index(&meta, &[(r, "x")]), Path::new("i")).unwrap_err();
        assert!(e.to_string().contains("record 0: bytes 3+3 lie outside shard s"), "{e}");
        let r = Record { label: 1, length: 1, ..r };
        let e = parse_index(&encode_index(&meta, &[(r, "x")]), Path::new("i")).unwrap_err();
        assert!(e.to_string().contains("label 1 of 1"), "{e}");
    }
}
