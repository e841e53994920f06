#!/usr/bin/env bash
# Training throughput of two builds of lgd on the same run, interleaved so that both see the same
# load: e.g. a commit before and after a change to the pipeline.
#
# Usage: scripts/bench-two-builds.sh OLD_LGD NEW_LGD [--config FILE] [--steps 240] [--rounds 2]
#   --config  a run config (default: the demo's, with its 12,000-image subset, validation and
#             checkpoints off, so the steps alone are timed)
# Prints each run's img/s after --steps steps (the run's own running average) and the ratio.
# Build an older commit with e.g. `git worktree add /tmp/old REV && (cd /tmp/old && ln -s
# $PWD/.venv .venv && cp -r $PWD/.cache . && CARGO_TARGET_DIR=$PWD/target cargo build --release
# --bin lgd) && cp target/release/lgd /tmp/lgd-old`, then `touch build.rs` and rebuild this tree
# (the shared target folder's build script would otherwise keep looking in the worktree's .cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD_LGD NEW_LGD [--config FILE] [--steps N] [--rounds R]" >&2; exit 2; }
old=$1 new=$2; shift 2
config= steps=240 rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
out=${TMPDIR:-/tmp}/lgd-two-builds
mkdir -p "$out"
if [ -z "$config" ]; then
    config=$out/run.toml
    awk -v steps="$steps" '
        /^\[/ { section = $0 }
        section == "[data]" && /^train *=/ { print "train = \".cache/demo/fashion-mnist-12k/train\""; next }
        section == "[validation]" && /^every_(steps|epochs) *=/ { sub(/=.*/, "= 0"); print; next }
        section == "[checkpoint]" && /^every_(steps|epochs) *=/ { sub(/=.*/, "= 0"); print; next }
        section == "[logging]" && /^every_steps *=/ { print "every_steps = " steps; next }
        { print }
    ' "$root/configs/demo-fashion-mnist.toml" >"$config"
fi
rate() { # build → img/s at step $steps (the run is stopped there)
    rm -rf "$out/run" "$out/run.log"
    (cd "$root" && exec "$1" --log-format json train --config "$config" --run-dir "$out/run" 2>"$out/run.log") &
    local pid=$! line=
    while kill -0 "$pid" 2>/dev/null; do
        line=$(grep -m1 "\"step\":$steps," "$out/run.log" 2>/dev/null || true)
        [ -n "$line" ] && break
        sleep 1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ -n "$line" ] || { echo "error: $1 did not reach step $steps; see $out/run.log" >&2; exit 1; }
    echo "$line" | sed 's/.*"images_per_second":\([0-9.]*\).*/\1/'
}
for round in $(seq "$rounds"); do
    a=$(rate "$old"); b=$(rate "$new")
    echo "round $round: old $a img/s, new $b img/s, new/old $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
done
