# Sourced by the GPU benchmarks that train the published recipe's shapes on synthetic data
# (bench-end-to-end.sh, bench-multi-gpu.sh). Expects $lgd, $py and $out.
#
# prepare_recipe_inputs IMAGES: synthetic ImageNet-like JPEGs in $out/images (kept between runs),
#   their class names in $out/classnames.txt and a CLIP RN50-shaped teacher with random weights
#   in $out/rn50-random.safetensors.
# write_recipe_config FILE DEVICE BATCH EPOCHS PRECISION [SECTION.KEY=VALUE...]: the published
#   recipe (configs/imagenet-r18-clip-rn50.toml) on those inputs, without warm-up, checkpoints or
#   validation, plus each extra field (VALUE as TOML: `augmentation.photometric="device"`), put in
#   its section, which is added when the recipe has none.

prepare_recipe_inputs() {
    local images=$1
    if [ ! -f "$out/images/.complete" ]; then
        rm -rf "$out/images"
        "$lgd" bench make-images --out "$out/images" --count "$images"
        touch "$out/images/.complete"
    fi
    ls "$out/images" | grep -v '^\.' | sed 's/_/ /' >"$out/classnames.txt"
    if [ ! -f "$out/rn50-random.safetensors" ]; then
        "$py" - "$out/rn50-random.safetensors" <<'PY'
import sys, torch, open_clip
from safetensors.torch import save_file
torch.manual_seed(0)
model = open_clip.create_model("RN50", pretrained=None)  # CLIP RN50's shapes, random weights
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, sys.argv[1])
PY
    fi
}

write_recipe_config() {
    local file=$1 device=$2 batch=$3 epochs=$4 precision=$5
    shift 5
    local extras
    extras=$(printf '%s\n' "$@")
    awk -v images="$out/images" -v weights="$out/rn50-random.safetensors" -v classes="$out/classnames.txt" \
        -v epochs="$epochs" -v batch="$batch" -v device="$device" -v precision="$precision" -v extras="$extras" '
        BEGIN {
            n = split(extras, list, "\n")
            for (i = 1; i <= n; i++) if (list[i] != "") {
                dot = index(list[i], "."); eq = index(list[i], "=")
                section_of[i] = "[" substr(list[i], 1, dot - 1) "]"
                line_of[i] = substr(list[i], dot + 1, eq - dot - 1) " = " substr(list[i], eq + 1)
            }
        }
        /^\[/ { section = $1 }
        section == "[run]" && /^device *=/ { print "device = \"" device "\""; next }
        section == "[data]" && /^(train|val) *=/ { sub(/=.*/, "= \"" images "\""); print; next }
        section == "[data]" && /^batch_size *=/ { print "batch_size = " batch; next }
        section == "[teacher]" && /^weights *=/ { print "weights = \"" weights "\""; next }
        section == "[banks]" && /^classnames *=/ { print "classnames = \"" classes "\""; next }
        section == "[schedule]" && /^epochs *=/ { print "epochs = " epochs; next }
        section == "[schedule]" && /^warmup_epochs *=/ { print "warmup_epochs = 0"; next }
        section == "[precision]" && /^autocast *=/ { print "autocast = \"" precision "\""; next }
        section == "[checkpoint]" && /^every_epochs *=/ { print "every_epochs = 0"; next }
        section == "[validation]" && /^every_epochs *=/ { print "every_epochs = 0"; next }
        { print }
        /^\[/ { for (i in line_of) if (section_of[i] == $1 && !(i in done)) { print line_of[i]; done[i] = 1 } }
        END {
            for (i in line_of) if (!(i in done)) {
                if (!(section_of[i] in opened)) { print section_of[i]; opened[section_of[i]] = 1 }
                print line_of[i]
            }
        }
    ' "$root/configs/imagenet-r18-clip-rn50.toml" >"$file"
}
