#!/usr/bin/env bash
# The pack comparison of BENCHMARKS.md ("Packing"): `lgd prepare pack` against FFCV's writer on
# the same synthetic ImageNet-like JPEGs (`lgd bench make-images`, the folder of
# scripts/bench-data.sh) with the same number of threads, run alternately `--repeat` times so that
# a neighbour's load on a shared machine falls on both; prints every run, then each figure as
# min–max over the runs. Then the fidelity of what each stores (mean PSNR of the decoded JPEGs
# against the originals, scripts/bench_pack_ffcv.py psnr), and `lgd bench data` over the folder,
# the pack as-is and the re-encoded pack.
#
# Usage: scripts/bench-pack.sh [--count 2000] [--threads 2] [--max-side 512] [--quality 90]
#                              [--repeat 3] [--per-thread 400] [--dir DIR] [--work DIR]
#   --count       images generated (the folder is reused while the count is unchanged)
#   --per-thread  samples per thread in each `lgd bench data` measurement
#   --work        where the packs and the .beton are written (removed before each run)
# Needs target/release/lgd (`make build`) and FFCV in its own environment, named by FFCV_PYTHON
# (default /tmp/ffcv-venv/bin/python): Debian's libturbojpeg0-dev, libopencv-dev and pkg-config,
# then `pip install "numpy<2" numba opencv-python pkgconfig cython`, `pip install
# --no-build-isolation ffcv` and `pip install --no-deps pytorch_pfn_extras terminaltables fastprogress
# psutil assertpy tqdm`, and a torch that imports there (for the BENCHMARKS.md figures: a .pth file
# naming the project's .venv site-packages, read after the venv's own numpy 1.26).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
ffcv_py=${FFCV_PYTHON:-/tmp/ffcv-venv/bin/python}
count=2000
threads=2
max_side=512
quality=90
repeat=3
per_thread=400
dir=${TMPDIR:-/tmp}/lgd-bench-images
work=${TMPDIR:-/tmp}/lgd-bench-pack
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --max-side) max_side=$2; shift 2 ;;
        --quality) quality=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --per-thread) per_thread=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }
"$ffcv_py" -c "import ffcv" 2>/dev/null || { echo "error: $ffcv_py cannot import ffcv (see the header of $0)" >&2; exit 1; }

marker="$dir.complete-$count"
if [ ! -f "$marker" ]; then
    rm -rf "$dir" "$dir".complete-*
    "$lgd" bench make-images --out "$dir" --count "$count"
    touch "$marker"
fi
mkdir -p "$work"
# Every run reads the files from the page cache, the first one included.
find "$dir" -type f -exec cat {} + >/dev/null
echo "$count files, $(du -sb "$dir" | cut -f1) bytes; $threads threads, max side $max_side, quality $quality; $(nproc) cores"

shard_bytes() { cat "$1"/shard-*.bin | wc -c; }
now() { date +%s.%N; }
# One lgd pack: prints "wall-seconds cpu-seconds bytes" of the whole process (start-up included:
# loading libtorch costs lgd about 0.6 CPU-s that FFCV's figures, timed inside Python, leave out).
lgd_pack() {
    local out=$work/$1; shift
    rm -rf "$out"
    local t
    t=$( { TIMEFORMAT='%R %U %S'; time "$lgd" prepare pack "$dir" "$out" --threads "$threads" "$@" 2>"$work/pack.log"; } 2>&1 )
    [ -f "$out/index.lgdpack" ] || { cat "$work/pack.log" >&2; exit 1; }
    read -r real user sys <<<"$t"
    echo "$real $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $(shard_bytes "$out")"
}
declare -A times cpus bytes
kinds="lgd-420 ffcv lgd-444 lgd-as-is"
for r in $(seq "$repeat"); do
    read -r t c b <<<"$(lgd_pack pack-420 --max-side "$max_side" --quality "$quality")"
    times[lgd-420]+="$t "; cpus[lgd-420]+="$c "; bytes[lgd-420]=$b
    rm -f "$work/ffcv.beton"
    line=$("$ffcv_py" "$root/scripts/bench_pack_ffcv.py" write --data "$dir" --out "$work/ffcv.beton" \
        --max-side "$max_side" --quality "$quality" --threads "$threads" 2>/dev/null | tail -1)
    read -r _ t _ c _ _ _ b _ <<<"$line"
    times[ffcv]+="$t "; cpus[ffcv]+="$c "; bytes[ffcv]=$b
    read -r t c b <<<"$(lgd_pack pack-444 --max-side "$max_side" --quality "$quality" --chroma 444)"
    times[lgd-444]+="$t "; cpus[lgd-444]+="$c "; bytes[lgd-444]=$b
    read -r t c b <<<"$(lgd_pack pack-as-is)"
    times[lgd-as-is]+="$t "; cpus[lgd-as-is]+="$c "; bytes[lgd-as-is]=$b
    echo -n "run $r (wall s / CPU s):"
    for k in $kinds; do echo -n " $k $(awk '{ print $NF }' <<<"${times[$k]}") / $(awk '{ print $NF }' <<<"${cpus[$k]}");"; done
    echo
done
# min–max of a list of numbers, printed with the format $2 (default %.2f).
spread() { tr ' ' '\n' <<<"$1" | awk -v f="${2:-%.2f}" 'NF { if (n++ == 0 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 } END { printf f "–" f, lo, hi }'; }
echo
echo "| packer | wall s, min–max of $repeat | CPU s, min–max of $repeat | JPEG bytes | vs FFCV |"
echo "|---|---|---|---|---|"
for k in $kinds; do
    echo "| $k | $(spread "${times[$k]}") | $(spread "${cpus[$k]}") | ${bytes[$k]} | $(awk -v a="${bytes[$k]}" -v b="${bytes[ffcv]}" 'BEGIN { printf "%+.1f %%", 100 * (a / b - 1) }') |"
done
echo
"$ffcv_py" "$root/scripts/bench_pack_ffcv.py" psnr --data "$dir" --beton "$work/ffcv.beton"
"$ffcv_py" "$root/scripts/bench_pack_ffcv.py" psnr --data "$dir" --pack "$work/pack-420"
"$ffcv_py" "$root/scripts/bench_pack_ffcv.py" psnr --data "$dir" --pack "$work/pack-444"
echo
rate() { sed -n 's/.*: \([0-9]*\) img\/s, \([0-9]*\) img\/s\/core, \([0-9na/]*\) img\/CPU-s.*/\2 \3/p'; }
declare -A core cpu
thread_counts=$(printf '%s\n' 1 "$threads" | sort -un)
for t in $thread_counts; do
    for r in $(seq "$repeat"); do
        for data in folder:"$dir" as-is:"$work/pack-as-is" 420:"$work/pack-420"; do
            line=$("$lgd" bench data --data "${data#*:}" --threads "$t" --images $((per_thread * t)))
            echo "$line"
            read -r c u <<<"$(rate <<<"$line")"
            core[$t-${data%%:*}]+="$c "; cpu[$t-${data%%:*}]+="$u "
        done
    done
done
echo
echo "| threads | input | img/s/core, min–max of $repeat | img/CPU-s, min–max of $repeat |"
echo "|---|---|---|---|"
for t in $thread_counts; do
    for k in folder as-is 420; do
        echo "| $t | $k | $(spread "${core[$t-$k]}" %.0f) | $(spread "${cpu[$t-$k]}" %.0f) |"
    done
done
