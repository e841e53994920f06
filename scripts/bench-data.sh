#!/usr/bin/env bash
# The data-path comparison of the README ("Data path benchmark"): generates the synthetic
# ImageNet-like folder, runs `lgd bench data` and its torchvision+PIL twin on the same files
# with the same thread counts, and prints one table. Each row also has lgd's CPU part alone when
# jitter, grayscale, blur and normalisation run batched on the device (`photometric = "device"`),
# and, with --device cuda, what that device stage delivers (`lgd bench photometric`).
#
# Usage: scripts/bench-data.sh [--threads "1 2"] [--count 500] [--per-thread 400] [--dir DIR] [--device cuda]
#   --threads     thread counts to measure (on a 16-core machine: --threads "1 16")
#   --count       images generated (the folder is reused while the count is unchanged)
#   --per-thread  samples processed per thread in each measurement
# Needs target/release/lgd (`make build`) and the project's Python (LGD_PYTHON or .venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
threads="1 2"
count=500
per_thread=400
dir=${TMPDIR:-/tmp}/lgd-bench-images
device=
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --count) count=$2; shift 2 ;;
        --per-thread) per_thread=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
[ -x "$py" ] || { echo "error: python $py not found: run 'make setup' or set LGD_PYTHON" >&2; exit 1; }

marker="$dir.complete-$count"
if [ ! -f "$marker" ]; then
    rm -rf "$dir" "$dir".complete-*
    "$lgd" bench make-images --out "$dir" --count "$count"
    touch "$marker"
fi

rate() { sed -n 's/.*: \([0-9]*\) img\/s, \([0-9]*\) img\/s\/core, \([0-9na/]*\) img\/CPU-s.*/\1 \2 \3/p'; }
rows=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else printf "n/a" }'; }
for t in $threads; do
    n=$((per_thread * t))
    rust_line=$("$lgd" bench data --data "$dir" --threads "$t" --images "$n" --photometric host)
    echo "$rust_line"
    part_line=$("$lgd" bench data --data "$dir" --threads "$t" --images "$n" --photometric device)
    echo "$part_line"
    py_line=$("$py" "$root/scripts/bench_data_torchvision.py" --data "$dir" --threads "$t" --images "$n")
    echo "$py_line"
    read -r r_all r_core r_cpu <<<"$(rate <<<"$rust_line")"
    read -r d_all d_core d_cpu <<<"$(rate <<<"$part_line")"
    read -r p_all p_core p_cpu <<<"$(rate <<<"$py_line")"
    rows+=("| $t | $r_all | $r_cpu | $d_all | $d_cpu | $p_all | $p_cpu | $(ratio "$r_all" "$p_all") | $(ratio "$r_cpu" "$p_cpu") | $(ratio "$d_cpu" "$p_cpu") |")
done
if [ -n "$device" ]; then
    "$lgd" bench photometric --device "$device" --batch 256 --size 224 --batches 20
fi
echo
echo "| threads | lgd img/s | lgd img/CPU-s | lgd CPU part img/s | lgd CPU part img/CPU-s | torchvision img/s | torchvision img/CPU-s | lgd/tv (wall) | lgd/tv (CPU) | lgd CPU part/tv (CPU) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
