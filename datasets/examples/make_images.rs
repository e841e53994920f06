//! Writes the benchmark folder without building the `lgd` binary (which needs libtorch).
//!
//! Usage: cargo run -p lgd-datasets --release --example make_images -- OUT COUNT [SEED]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(count)) = (args.get(1), args.get(2).and_then(|c| c.parse().ok())) else {
        eprintln!("usage: make_images OUT COUNT [SEED]");
        std::process::exit(2);
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    match lgd_datasets::bench::images::make_images(std::path::Path::new(out), count, seed) {
        Ok(s) => println!(
            "{} files, {:.0} KB on average, in {out}",
            s.files,
            s.bytes as f64 / 1024.0 / s.files.max(1) as f64
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
