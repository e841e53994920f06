//! Builds the C++ extension against the libtorch that tch links, and makes every binary and test
//! binary (a) keep `libtorch_cuda.so` although no Rust symbol references it — otherwise the linker's
//! `--as-needed` drops it and CUDA reports "not available" — and (b) find libtorch through a run path,
//! so `target/release/lgd` runs with no environment variables while `LD_LIBRARY_PATH` still wins.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where libtorch lives, found the way torch-sys finds it (LIBTORCH, else the active python's torch).
struct Libtorch {
    include: Vec<PathBuf>,
    lib: PathBuf,
    cxx11_abi: String,
}

fn main() {
    for var in ["LIBTORCH", "LIBTORCH_USE_PYTORCH", "VIRTUAL_ENV", "PATH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=src/torch_ext/lgd_ext.cpp");
    println!("cargo:rerun-if-changed=src/torch_ext/process_group.cpp");
    println!("cargo:rerun-if-changed=src/torch_ext/optimizer_kernels.cpp");
    println!("cargo:rerun-if-changed=src/torch_ext/streams.cpp");
    println!("cargo:rerun-if-changed=src/torch_ext/libtorch_log.cpp");
    println!("cargo:rerun-if-env-changed=LGD_GLOO_INCLUDE");

    println!("cargo:rerun-if-changed=src/torch_ext/process_group_nccl.cpp");
    println!("cargo:rerun-if-changed=src/torch_ext/guarded.h");

    let torch = locate_libtorch();
    let gloo = locate_gloo_headers();
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("src/torch_ext/lgd_ext.cpp")
        .file("src/torch_ext/process_group.cpp")
        .file("src/torch_ext/optimizer_kernels.cpp")
        .file("src/torch_ext/streams.cpp")
        .file("src/torch_ext/libtorch_log.cpp")
        .file("src/torch_ext/process_group_nccl.cpp")
        .includes(&torch.include)
        .include(&gloo)
        // libtorch's wheels are built with Gloo; its c10d headers show the Gloo group only then.
        .define("USE_C10D_GLOO", None);
    match nccl_includes(&torch) {
        Some(dirs) => {
            build.includes(dirs).define("USE_C10D_NCCL", None);
        }
        None => {
            build.define("LGD_WITHOUT_NCCL", None);
        }
    }
    build
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={}", torch.cxx11_abi))
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false)
        .compile("lgd_ext");

    let lib = torch.lib.display();
    println!("cargo:rustc-link-search=native={lib}");
    if torch.lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    // RUNPATH (new dtags), not RPATH: LD_LIBRARY_PATH must be able to point at another libtorch 2.11.
    println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-env=LGD_BUILD_LIBTORCH_LIB={lib}");
}

fn locate_libtorch() -> Libtorch {
    if let Ok(root) = std::env::var("LIBTORCH") {
        let root = PathBuf::from(root);
        return Libtorch {
            include: include_dirs(&root.join("include")),
            lib: root.join("lib"),
            cxx11_abi: std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into()),
        };
    }
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() { "python" } else { "python3" };
    let script = "import os, torch; print(os.path.dirname(torch.__file__)); \
                  print(int(torch._C._GLIBCXX_USE_CXX11_ABI))";
    let output = Command::new(python).args(["-c", script]).output().unwrap_or_else(|e| {
        panic!("lgd build: cannot run `{python}` to locate libtorch ({e}); run `make setup` and build through `make`")
    });
    if !output.status.success() {
        panic!(
            "lgd build: `{python}` cannot import torch ({}); run `make setup` (it creates .venv with torch==2.11.0) and build through `make`",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let root = PathBuf::from(lines.next().expect("torch directory line"));
    let cxx11_abi = lines.next().unwrap_or("1").trim().to_owned();
    Libtorch { include: include_dirs(&root.join("include")), lib: root.join("lib"), cxx11_abi }
}

/// The CUDA and NCCL headers libtorch's NCCL process group needs, when this libtorch has CUDA:
/// the runtime's and NCCL's from the nvidia-* wheels torch installed, crt/ and <nv/target> from the
/// two header wheels `scripts/fetch-cuda-headers.sh` unpacks into .cache/cuda-headers.
fn nccl_includes(torch: &Libtorch) -> Option<Vec<PathBuf>> {
    if !torch.lib.join("libtorch_cuda.so").exists() {
        return None;
    }
    let site = torch.lib.parent()?.parent()?; // site-packages/torch/lib → site-packages
    let fetched = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/cuda-headers/nvidia/cu13/include");
    let dirs = vec![site.join("nvidia/cu13/include"), fetched.clone(), site.join("nvidia/nccl/include")];
    let needed = [
        dirs[0].join("cuda_runtime_api.h"),
        fetched.join("nv/target"),
        fetched.join("crt/host_config.h"),
        dirs[2].join("nccl.h"),
    ];
    if let Some(missing) = needed.iter().find(|p| !p.exists()) {
        println!("cargo:warning=NCCL backend left out: {} not found (run `bash scripts/fetch-cuda-headers.sh`, which `make setup` does)", missing.display());
        return None;
    }
    println!("cargo:rerun-if-changed={}", fetched.join("crt/host_config.h").display());
    Some(dirs)
}

/// Gloo's headers, which libtorch's wheel leaves out although its c10d headers include them (the
/// Gloo code itself is inside libtorch_cpu.so): LGD_GLOO_INCLUDE, else what
/// `scripts/fetch-gloo-headers.sh` unpacked into .cache/gloo, else the system's libgloo-dev.
fn locate_gloo_headers() -> PathBuf {
    let candidates = [
        std::env::var_os("LGD_GLOO_INCLUDE").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/gloo/usr/include")),
        Some(PathBuf::from("/usr/include")),
    ];
    for dir in candidates.into_iter().flatten() {
        if dir.join("gloo/rendezvous/store.h").exists() {
            println!("cargo:rerun-if-changed={}", dir.join("gloo/rendezvous/store.h").display());
            return dir;
        }
    }
    panic!("lgd build: Gloo's headers (gloo/rendezvous/store.h) not found; run `bash scripts/fetch-gloo-headers.sh` (make setup does) or set LGD_GLOO_INCLUDE");
}

fn include_dirs(include: &Path) -> Vec<PathBuf> {
    vec![include.to_owned(), include.join("torch/csrc/api/include")]
}
