"""Oracle for CLIP's towers: tiny open_clip models with random weights (real architectures, real
49,408-token vocabulary), their embeddings in float32, and their weights in the two forms users
bring: a safetensors state dict and a TorchScript archive laid out as OpenAI's RN50.pt is (a traced
CLIP module whose conv/linear/attention weights and projections are float16, BatchNorm and
LayerNorm float32, with the `input_resolution`/`context_length`/`vocab_size` entries).

Weights are rounded through float16 first, so both files hold the same values and the archive's
float16 tensors lose nothing against the float32 reference outputs.

Writes OUT_DIR/{rn,vit}.safetensors, OUT_DIR/{rn,vit}.openclip.pt (torch.save), OUT_DIR/{rn,vit}.pt and OUT_DIR/{rn,vit}.expected.safetensors
(images [3,3,64,64], tokens [3,77] int64, image_embeddings, text_embeddings).

usage: clip_towers_oracle.py OUT_DIR
"""

import sys
from pathlib import Path

import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from open_clip.tokenizer import tokenize
from safetensors.torch import save_file

CONFIGS = {
    # Modified ResNet, one Bottleneck per stage, stem width 16 (pool over 512 channels, 8 heads).
    "rn": CLIPVisionCfg(layers=(1, 1, 1, 1), width=16, image_size=64),
    # ViT, 2 blocks of width 128 (2 heads), 16-pixel patches.
    "vit": CLIPVisionCfg(layers=2, width=128, patch_size=16, image_size=64),
}
TEXT = CLIPTextCfg(context_length=77, vocab_size=49408, width=128, heads=2, layers=2)
EMBED_DIM = 32
PROMPTS = ["a photo of a goldfish.", "a bad photo of the great white shark.", "a sculpture of a tench."]


def fp16_names(model):
    """Parameters OpenAI's convert_weights stores as float16."""
    names = set()
    for module_name, module in model.named_modules():
        prefix = module_name + "." if module_name else ""
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
            names.update(prefix + n for n, _ in module.named_parameters(recurse=False))
        if isinstance(module, torch.nn.MultiheadAttention):
            names.update(prefix + n for n in ("in_proj_weight", "in_proj_bias") if getattr(module, n) is not None)
    names.update(n for n, _ in model.named_parameters() if n in ("text_projection", "visual.proj"))
    return names


def randomise(model, generator):
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm_scale = name.endswith("weight") and p.dim() == 1  # LayerNorm / BatchNorm gains
            scale = 0.5 if p.dim() <= 1 else p[0].numel() ** -0.5  # 1/sqrt(fan-in): activations stay O(1)
            p.copy_(torch.randn(p.shape, generator=generator) * scale + (1.0 if is_norm_scale else 0.0))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=generator) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=generator) + 0.5)
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())  # representable in float16: the archive is exact


def main():
    out = Path(sys.argv[1])
    generator = torch.Generator().manual_seed(0)
    tokens = tokenize(PROMPTS)  # [3, 77] int64
    for name, vision in CONFIGS.items():
        model = CLIP(EMBED_DIM, vision_cfg=vision, text_cfg=TEXT, quick_gelu=True).eval()
        randomise(model, generator)
        images = torch.randn(3, 3, 64, 64, generator=generator)
        with torch.no_grad():
            image_embeddings = model.encode_image(images)
            text_embeddings = model.encode_text(tokens)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"{name}.safetensors"))
        # open_clip's own checkpoint form: torch.save of {"state_dict": ...} with DDP's "module." prefix.
        torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
                   out / f"{name}.openclip.pt")
        save_file({"images": images, "tokens": tokens, "image_embeddings": image_embeddings,
                   "text_embeddings": text_embeddings}, str(out / f"{name}.expected.safetensors"))

        half = fp16_names(model)
        for key, value in [("input_resolution", 64), ("context_length", 77), ("vocab_size", 49408)]:
            if hasattr(model, key):
                delattr(model, key)  # open_clip keeps these as plain ints; OpenAI's archives hold tensors
            model.register_buffer(key, torch.tensor(value))
        # check_trace off: nn.MultiheadAttention takes its fused fast path on some calls only.
        traced = torch.jit.trace_module(
            model, {"encode_image": (images,), "encode_text": (tokens,)}, check_trace=False)
        with torch.no_grad():
            for key, p in traced.named_parameters():
                if key in half:
                    p.data = p.data.half()
        torch.jit.save(traced, str(out / f"{name}.pt"))
        kinds = {str(p.dtype) for _, p in traced.named_parameters()}
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, archive dtypes {sorted(kinds)}")


if __name__ == "__main__":
    main()
