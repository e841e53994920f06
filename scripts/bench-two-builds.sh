#!/usr/bin/env bash
# Training throughput of two builds of lgd on the same run, interleaved so that both see the same
# load: e.g. a commit before and after a change to the pipeline.
#
# Usage: scripts/bench-two-builds.sh OLD_LGD NEW_LGD [--config FILE] [--steps 240] [--rounds 2] [--losses]
#   --config  a run config (default: the demo's, with its 12,000-image subset, validation and
#             checkpoints off, so the steps alone are timed)
#   --losses  log every step and require both builds' losses to be bit-identical at every step
#             (a refactoring's check; the extra read-backs make the img/s a little lower)
# Prints each run's img/s after --steps steps (the run's own running average) and the ratio.
# Build an older commit with e.g. `git worktree add /tmp/old REV && (cd /tmp/old && ln -s
# $PWD/.venv .venv && cp -r $PWD/.cache . && CARGO_TARGET_DIR=$PWD/target cargo build --release
# --bin lgd) && cp target/release/lgd /tmp/lgd-old`, then `touch build.rs` and rebuild this tree
# (the shared target folder's build script would otherwise keep looking in the worktree's .cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD_LGD NEW_LGD [--config FILE] [--steps N] [--rounds R]" >&2; exit 2; }
old=$1 new=$2; shift 2
config= steps=240 rounds=2 losses=
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --losses) losses=1; shift ;;
        *) echo "error: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
out=${TMPDIR:-/tmp}/lgd-two-builds
mkdir -p "$out"
if [ -z "$config" ]; then
    config=$out/run.toml
    awk -v steps="$steps" -v every="${losses:+1}" '
        /^\[/ { section = $0 }
        section == "[data]" && /^train *=/ { print "train = \".cache/demo/fashion-mnist-12k/train\""; next }
        section == "[validation]" && /^every_(steps|epochs) *=/ { sub(/=.*/, "= 0"); print; next }
        section == "[checkpoint]" && /^every_(steps|epochs) *=/ { sub(/=.*/, "= 0"); print; next }
        section == "[logging]" && /^every_steps *=/ { print "every_steps = " (every ? every : steps); next }
        { print }
    ' "$root/configs/demo-fashion-mnist.toml" >"$config"
fi
rate() { # build [log copy] → img/s at step $steps (the run is stopped there)
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
    [ -z "${2:-}" ] || cp "$out/run.log" "$2"
    echo "$line" | sed 's/.*"images_per_second":\([0-9.]*\).*/\1/'
}
step_losses() { # log → "step loss" per step up to $steps, as logged (shortest round-trip decimal)
    grep -o '"step":[0-9]*,"epoch":[0-9]*,"loss":[^,]*' "$1" | sed 's/"step":\([0-9]*\),"epoch":[0-9]*,"loss":/\1 /' |
        awk -v steps="$steps" '$1 <= steps'
}
for round in $(seq "$rounds"); do
    a=$(rate "$old" "$out/old.log"); b=$(rate "$new" "$out/new.log")
    echo "round $round: old $a img/s, new $b img/s, new/old $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
    if [ -n "$losses" ]; then
        step_losses "$out/old.log" >"$out/old.losses"; step_losses "$out/new.log" >"$out/new.losses"
        [ "$(wc -l <"$out/old.losses")" -eq "$steps" ] || { echo "error: the old build's log has $(wc -l <"$out/old.losses") of $steps step losses" >&2; exit 1; }
        if cmp -s "$out/old.losses" "$out/new.losses"; then
            echo "round $round: losses bit-identical at all $steps steps"
        else
            echo "round $round: losses DIFFER; first difference (step, old, new):" >&2
            paste -d' ' "$out/old.losses" "$out/new.losses" | awk '$2 != $4 { print $1, $2, $4; exit }' >&2
            exit 1
        fi
    fi
done
