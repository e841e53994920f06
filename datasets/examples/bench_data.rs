//! `lgd bench data` without libtorch: the same library call.
//!
//! Usage: cargo run -p lgd-datasets --release --example bench_data -- DIR THREADS [IMAGES]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads)) = (args.get(1), args.get(2).and_then(|t| t.parse().ok())) else {
        eprintln!("usage: bench_data DIR THREADS [IMAGES]");
        std::process::exit(2);
    };
    let opts = lgd_datasets::bench::BenchOptions {
        threads,
        images: args.get(3).and_then(|n| n.parse().ok()),
        ..Default::default()
    };
    match lgd_datasets::bench::run(std::path::Path::new(dir), &opts) {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
