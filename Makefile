# The two commands of the README: `make demo` and `make test`. Both install what they need.
# Builds go through here so that cargo sees the project's libtorch: .venv first on PATH, and
# torch-sys told to take libtorch from that Python environment.

SHELL := bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(VENV)
export LIBTORCH_USE_PYTORCH := 1
export LGD_PYTHON := $(VENV)/bin/python
CARGO ?= cargo

.PHONY: setup build lint test demo faults chaos

## setup: create .venv with torch 2.11.0 and the test oracles (mmdetection/mmsegmentation for the
## export tests among them), fetch CLIP's BPE vocabulary, install
## nasm for libjpeg-turbo's SIMD code, unpack the Gloo and CUDA headers the c10d process groups
## are compiled against (each step does nothing when already up to date)
setup:
	@bash scripts/setup-venv.sh
	@bash scripts/setup-mmlab.sh
	@bash scripts/fetch-clip-vocab.sh
	@bash scripts/install-nasm.sh
	@bash scripts/fetch-gloo-headers.sh
	@bash scripts/fetch-cuda-headers.sh

## build: the release binary target/release/lgd
build: setup
	$(CARGO) build --release --workspace

## lint: the house rules CI checks before the tests: rustfmt.toml's layout and clippy with every
## warning an error (release profile, so torch-sys's C++ is built once for lint and test alike)
lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets --features lgd/fault-injection -- -D warnings

## test: setup, then every Rust test, oracle tests included (they run the .venv's PyTorch), built
## with the fault-injection feature, and the library's fault-injection test once more without it;
## the dashboard test screenshots the page with headless Chromium (installed from Debian when root)
test: setup
	@bash scripts/install-chromium.sh
	$(CARGO) test --release --workspace --features lgd/fault-injection
	$(CARGO) test --release -p lgd --lib fault_injection   # a build without the feature refuses [fault_injection]

## faults: the fault-injection suite at full size (50 kill runs) with its figures printed
faults: setup
	set -o pipefail; LGD_FAULT_KILLS=50 $(CARGO) test --release --features fault-injection --test fault_injection -- --nocapture --test-threads 1 2>&1 | grep -E '^FAULTS|test result|panicked'

## chaos: a 6,000-step CPU run under random signals, reloads, suspends and kills, checked bit for
## bit against the same run left alone (scripts/chaos_soak.py; ~30 minutes on 2 cores)
chaos: build
	$(VENV)/bin/python scripts/chaos_soak.py --steps 6000

## demo: LGD on real weights (EfficientNet-Lite0) and real images (Fashion-MNIST), on the CPU
demo: build
	@bash scripts/demo.sh
