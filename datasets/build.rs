//! Compiles `csrc/libjpeg_scan.c` (named access to libjpeg's private decompressor fields, for the
//! Huffman decoder in `src/decode/huffman.rs`) against the headers mozjpeg-sys built its library
//! with, which it exports as `DEP_JPEG_INCLUDE`.

fn main() {
    println!("cargo:rerun-if-changed=csrc/libjpeg_scan.c");
    let include = std::env::var_os("DEP_JPEG_INCLUDE").expect("mozjpeg-sys exports its include path");
    let mut build = cc::Build::new();
    for dir in std::env::split_paths(&include) {
        build.include(dir);
    }
    build.file("csrc/libjpeg_scan.c").warnings(true).compile("lgd_libjpeg_scan");
}
