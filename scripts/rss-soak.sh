#!/usr/bin/env bash
# Host memory over a long CPU run: the CI smoke setup (tiny random CLIP RN teacher from the test
# oracle, ResNet-18 student, batch 4 at 64 px) trained for --steps steps, the resident set logged
# every 100 steps in metrics.jsonl; prints it at the first and last record, its peak, and the
# growth over the second half (where allocator caches and lookup tables have long settled).
#
# Usage: scripts/rss-soak.sh [--steps 10000] [--dir DIR]
# Needs target/release/lgd (`make build`) and the project's Python (LGD_PYTHON or .venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lgd=${LGD:-$root/target/release/lgd}
py=${LGD_PYTHON:-$root/.venv/bin/python}
steps=10000
dir=${TMPDIR:-/tmp}/lgd-rss-soak
while [ $# -gt 0 ]; do
    case "$1" in
        --steps) steps=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -x "$lgd" ] || { echo "error: $lgd is not built: run 'make build' first" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/teacher"
"$py" "$root/tests/oracle/clip_towers_oracle.py" "$dir/teacher" >/dev/null
"$lgd" bench make-images --out "$dir/data/train" --count 48 >/dev/null
ls "$dir/data/train" | sed 's/_/ /' >"$dir/classnames.txt"
batches_per_epoch=$((48 / 4))
epochs=$(( (steps + batches_per_epoch - 1) / batches_per_epoch ))
sed -e "s/^epochs = .*/epochs = $epochs/" \
    -e 's/^every_steps = 1$/every_steps = 100/' \
    -e 's/^every_epochs = 3$/every_epochs = 0/' \
    -e 's/^every_epochs = 2$/every_epochs = 100/' \
    "$root/configs/ci-smoke.toml" >"$dir/run.toml"
echo "training $((epochs * batches_per_epoch)) steps in $dir/run (config $dir/run.toml)"
(cd "$dir" && "$lgd" train --config run.toml --run-dir run 2>"$dir/train.log")
"$py" - "$dir/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rss = [(r["step"], r["memory"]["host_rss_bytes"] / 2**20) for r in rows if "memory" in r]
half = rss[len(rss) // 2]
print(f"host RSS: step {rss[0][0]}: {rss[0][1]:.1f} MiB; step {rss[-1][0]}: {rss[-1][1]:.1f} MiB; "
      f"peak {max(m for _, m in rss):.1f} MiB; second half (step {half[0]} -> {rss[-1][0]}): "
      f"{rss[-1][1] - half[1]:+.1f} MiB")
PY
