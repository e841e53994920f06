//! IDX files (the MNIST / Fashion-MNIST container: big-endian magic, dimensions, then raw u8
//! data), optionally gzip-compressed as distributed, turned into a packed dataset (each 28×28 grey
//! image PNG-encoded, so the training path decodes it like any other image) or an image folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::packed::{SampleError, SampleSource};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Why IDX files could not be read or converted. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file cannot be read, or (gzip) decompressed.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS or gzip error.
        source: std::io::Error,
    },
    /// Not the IDX type expected (images given as labels, or not IDX at all).
    #[error("{path}: not an IDX {what} file (magic {found:#010x}, expected {expected:#010x})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        what: &'static str,
        /// The magic found.
        found: u32,
        /// The magic expected.
        expected: u32,
    },
    /// Fewer bytes than the dimensions announce.
    #[error("{path}: truncated: the header announces {expected} bytes of data, the file has {got}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes announced.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// Image and label files disagree on the number of samples.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its count.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Its count.
        n_labels: usize,
    },
    /// A label with no class name.
    #[error("{path}: label {label} of sample {index} has no class name (the list has {classes})")]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// The sample.
        index: usize,
        /// Its label.
        label: u8,
        /// Number of class names.
        classes: usize,
    },
    /// The output folder exists and is not empty.
    #[error("{path}: the output folder is not empty; choose a new one")]
    OutputNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// Writing the image folder failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Reads a file, gunzipping it when it starts with the gzip magic.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, IdxError> {
    let io = |source| IdxError::Io { path: path.to_owned(), source };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1F, 0x8B]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(io)?;
        return Ok(out);
    }
    Ok(raw)
}

/// Checks the magic and returns the dimensions and the data after the header.
fn parse<'a>(bytes: &'a [u8], path: &Path, magic: u32, what: &'static str) -> Result<(Vec<usize>, &'a [u8]), IdxError> {
    let be = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
    let found = be(0).unwrap_or(0);
    if found != magic {
        return Err(IdxError::BadMagic { path: path.to_owned(), what, found, expected: magic });
    }
    let dims_n = (magic & 0xFF) as usize;
    let header = 4 + 4 * dims_n;
    let dims: Vec<usize> = (0..dims_n).map(|d| be(4 + 4 * d).unwrap_or(0) as usize).collect();
    let expected = dims.iter().map(|&d| d as u64).product::<u64>();
    let got = bytes.len().saturating_sub(header) as u64;
    if bytes.len() < header || got < expected {
        return Err(IdxError::Truncated { path: path.to_owned(), expected, got });
    }
    Ok((dims, &bytes[header..header + expected as usize]))
}

/// Grey images and labels from a pair of IDX files, with class names: a [`SampleSource`].
#[derive(Debug, Clone)]
pub struct IdxSource {
    images_path: PathBuf,
    rows: usize,
    cols: usize,
    /// The decompressed images file; pixels start at `pixels_at` (kept whole: no 47 MB copy).
    image_file: Vec<u8>,
    pixels_at: usize,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl IdxSource {
    /// Reads both files (plain or gzip) and checks that they agree and that every label has a name.
    pub fn open(images: &Path, labels: &Path, classes: Vec<String>) -> Result<Self, IdxError> {
        let image_bytes = read_maybe_gzip(images)?;
        let (dims, _) = parse(&image_bytes, images, IMAGES_MAGIC, "images")?;
        let pixels_at = 4 + 4 * dims.len(); // the header: magic and one u32 per dimension
        let label_bytes = read_maybe_gzip(labels)?;
        let (label_dims, label_data) = parse(&label_bytes, labels, LABELS_MAGIC, "labels")?;
        if dims[0] != label_dims[0] {
            return Err(IdxError::CountMismatch {
                images: images.to_owned(),
                n_images: dims[0],
                labels: labels.to_owned(),
                n_labels: label_dims[0],
            });
        }
        if let Some((index, &label)) = label_data.iter().enumerate().find(|(_, &l)| l as usize >= classes.len()) {
            return Err(IdxError::LabelOutOfRange { path: labels.to_owned(), index, label, classes: classes.len() });
        }
        Ok(Self {
            images_path: images.to_owned(),
            rows: dims[1],
            cols: dims[2],
            labels: label_data.to_vec(),
            image_file: image_bytes,
            pixels_at,
            classes,
        })
    }

    /// Image size (rows, columns).
    pub fn image_size(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The raw grey pixels of image `index` (rows × cols, row-major).
    pub fn pixels(&self, index: usize) -> &[u8] {
        let n = self.rows * self.cols;
        &self.image_file[self.pixels_at + index * n..][..n]
    }

    /// Image `index` as an 8-bit grey PNG.
    pub fn png(&self, index: usize) -> Result<Vec<u8>, image::ImageError> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out).write_image(
            self.pixels(index),
            self.cols as u32,
            self.rows as u32,
            ExtendedColorType::L8,
        )?;
        Ok(out)
    }

    /// The class folder name for `label` in [`Self::write_folder`]: the label, zero-padded so
    /// sorted folder order is label order (ImageFolder assigns labels by sorted name), a dot, and
    /// the class name with path separators replaced.
    pub fn folder_name(&self, label: usize) -> String {
        let width = (self.classes.len().max(2) - 1).to_string().len();
        format!("{label:0width$}.{}", self.classes[label].replace(['/', '\\'], "_"))
    }

    /// Writes `out/<NN.class>/<index>.png` for every image; `out` must be new or empty.
    /// Returns the number of files written.
    pub fn write_folder(&self, out: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<usize, IdxError> {
        let write = |path: &Path| {
            let path = path.to_owned();
            move |source| IdxError::Write { path, source }
        };
        if std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false) {
            return Err(IdxError::OutputNotEmpty { path: out.to_owned() });
        }
        for label in 0..self.classes.len() {
            let dir = out.join(self.folder_name(label));
            std::fs::create_dir_all(&dir).map_err(write(&dir))?;
        }
        let digits = self.len().max(2).to_string().len();
        for index in 0..self.len() {
            let path = out.join(self.folder_name(self.labels[index] as usize)).join(format!("{index:0digits$}.png"));
            let png = self
                .png(index)
                .map_err(|e| IdxError::Write { path: path.clone(), source: std::io::Error::other(e) })?;
            std::fs::write(&path, png).map_err(write(&path))?;
            progress(index + 1, self.len());
        }
        Ok(self.len())
    }
}

impl SampleSource for IdxSource {
    fn describe(&self) -> String {
        self.images_path.display().to_string()
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    /// `<images file name>#<index>`: where the sample came from, for reports.
    fn name(&self, index: usize) -> String {
        let file = self.images_path.file_name().map_or_else(|| "images".into(), |f| f.to_string_lossy().into_owned());
        format!("{file}#{index}")
    }

    fn label(&self, index: usize) -> u32 {
        u32::from(self.labels[index])
    }

    fn load(&self, index: usize) -> Result<Vec<u8>, SampleError> {
        self.png(index).map_err(|source| SampleError::Png { name: self.name(index), source })
    }
}

/// Writes IDX files (for tests and tools): images `count`×`rows`×`cols` and their labels.
pub fn write_idx(
    images: &Path,
    labels: &Path,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    label_data: &[u8],
) -> std::io::Result<()> {
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [label_data.len(), rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    std::fs::write(images, out)?;
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(label_data.len() as u32).to_be_bytes());
    out.extend_from_slice(label_data);
    std::fs::write(labels, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeOptions};
    use crate::image_folder::ImageFolder;
    use crate::packed::{pack, PackOptions, PackedDataset};
    use std::io::Write;

    fn names() -> Vec<String> {
        crate::classnames::ClassNames::resolve("fashion_mnist").unwrap().names().to_vec()
    }

    fn generated(dir: &Path, n: usize) -> (PathBuf, PathBuf, Vec<u8>, Vec<u8>) {
        std::fs::create_dir_all(dir).unwrap();
        let pixels: Vec<u8> = (0..n * 28 * 28).map(|i| ((i * 7919) % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| ((i * 3) % 10) as u8).collect();
        let (images, label_file) = (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
        write_idx(&images, &label_file, 28, 28, &pixels, &labels).unwrap();
        (images, label_file, pixels, labels)
    }

    fn gzip(path: &Path) -> PathBuf {
        let gz = path.with_extension("gz");
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(&std::fs::read(path).unwrap()).unwrap();
        enc.finish().unwrap();
        gz
    }

    fn grey(bytes: &[u8]) -> Vec<u8> {
        let img = decode(bytes, Path::new("x.png"), &DecodeOptions::default()).unwrap();
        assert_eq!((img.width(), img.height()), (28, 28));
        img.as_raw()
            .chunks(3)
            .map(|p| {
                assert!(p[0] == p[1] && p[1] == p[2]);
                p[0]
            })
            .collect()
    }

    #[test]
    fn gzipped_idx_packs_and_unpacks_to_the_same_pixels_and_labels() {
        let dir = std::env::temp_dir().join(format!("lgd-idx-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (images, labels, pixels, label_data) = generated(&dir, 30);
        let source = IdxSource::open(&gzip(&images), &gzip(&labels), names()).unwrap();
        assert_eq!((source.len(), source.image_size()), (30, (28, 28)));
        let out = dir.join("packed");
        let summary = pack(&source, &out, &PackOptions { threads: 2, ..Default::default() }, &mut |_| {}).unwrap();
        assert!(summary.skipped.is_empty());
        let data = PackedDataset::open(&out).unwrap();
        assert_eq!(data.classes(), names().as_slice());
        assert_eq!(data.path(7).unwrap(), "images-idx3-ubyte.gz#7");
        for i in 0..30 {
            let (bytes, label) = data.get(i).unwrap();
            assert_eq!(grey(bytes), &pixels[i * 784..(i + 1) * 784], "image {i}");
            assert_eq!(label, u32::from(label_data[i]));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_to_image_folder_keeps_labels_through_imagefolder_order() {
        let dir = std::env::temp_dir().join(format!("lgd-idx-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (images, labels, pixels, label_data) = generated(&dir, 25);
        let source = IdxSource::open(&images, &labels, names()).unwrap();
        let out = dir.join("folder");
        assert_eq!(source.write_folder(&out, &mut |_, _| {}).unwrap(), 25);
        let folder = ImageFolder::open(&out).unwrap();
        assert_eq!(folder.classes()[0], "0.T-shirt_top");
        assert_eq!(folder.classes()[9], "9.Ankle boot");
        assert_eq!(folder.samples().len(), 25);
        for (path, label) in folder.samples() {
            let index: usize = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            assert_eq!(*label, u32::from(label_data[index]), "{}", path.display());
            assert_eq!(grey(&std::fs::read(path).unwrap()), &pixels[index * 784..(index + 1) * 784]);
        }
        let e = source.write_folder(&out, &mut |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_truncated_or_inconsistent_files_are_named() {
        let dir = std::env::temp_dir().join(format!("lgd-idx-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (images, labels, _, _) = generated(&dir, 5);
        let e = IdxSource::open(&labels, &images, names()).unwrap_err().to_string();
        assert!(e.contains("labels-idx1-ubyte: not an IDX images file"), "{e}");
        let bytes = std::fs::read(&images).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, &bytes[..bytes.len() - 1]).unwrap();
        let e = IdxSource::open(&short, &labels, names()).unwrap_err().to_string();
        assert!(e.contains("short: truncated: the header announces 3920 bytes of data, the file has 3919"), "{e}");
        let (_, other_labels, _, _) = generated(&dir.join("other"), 4);
        let e = IdxSource::open(&images, &other_labels, names()).unwrap_err().to_string();
        assert!(e.contains("holds 5 images but") && e.contains("holds 4 labels"), "{e}");
        let e = IdxSource::open(&images, &labels, names()[..3].to_vec()).unwrap_err().to_string();
        assert!(e.contains("label 3 of sample 1 has no class name (the list has 3)"), "{e}");
        let e = IdxSource::open(&dir.join("nope"), &labels, names()).unwrap_err().to_string();
        assert!(e.contains("nope: cannot read"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The real files, fetched by `scripts/fetch-fashion-mnist.sh` into `.cache/fashion-mnist/`.
    #[test]
    #[ignore = "needs the real Fashion-MNIST files: run scripts/fetch-fashion-mnist.sh, then cargo test -- --ignored"]
    fn real_fashion_mnist_test_split_reads_with_its_published_counts() {
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/fashion-mnist");
        let source = IdxSource::open(
            &cache.join("t10k-images-idx3-ubyte.gz"),
            &cache.join("t10k-labels-idx1-ubyte.gz"),
            names(),
        )
        .unwrap();
        assert_eq!((source.len(), source.image_size()), (10_000, (28, 28)));
        let mut per_class = [0usize; 10];
        (0..source.len()).for_each(|i| per_class[source.label(i) as usize] += 1);
        println!("Fashion-MNIST t10k: {} images, per class {per_class:?}", source.len());
        assert_eq!(per_class, [1000; 10]);
    }
}
