"""A full-size CLIP RN50 with random weights, saved as OpenAI lays out RN50.pt (a traced TorchScript
archive, convolution/linear/attention weights in float16), plus open_clip's image embeddings.

usage: clip_rn50_oracle.py OUT_DIR  -> OUT_DIR/RN50.pt, OUT_DIR/rn50.expected.safetensors
"""

import sys
from pathlib import Path

import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from clip_towers_oracle import fp16_names, randomise  # noqa: E402


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    vision = CLIPVisionCfg(layers=(3, 4, 6, 3), width=64, image_size=224)
    text = CLIPTextCfg(context_length=77, vocab_size=49408, width=512, heads=8, layers=12)
    model = CLIP(1024, vision_cfg=vision, text_cfg=text, quick_gelu=True).eval()
    randomise(model, generator)
    images = torch.randn(2, 3, 224, 224, generator=generator)
    tokens = torch.zeros(2, 77, dtype=torch.long)
    tokens[:, 0], tokens[:, 1] = 49406, 49407
    with torch.no_grad():
        embeddings = model.encode_image(images)
    save_file({"images": images, "image_embeddings": embeddings}, str(out / "rn50.expected.safetensors"))
    half = fp16_names(model)
    for key, value in [("input_resolution", 224), ("context_length", 77), ("vocab_size", 49408)]:
        if hasattr(model, key):
            delattr(model, key)
        model.register_buffer(key, torch.tensor(value))
    traced = torch.jit.trace_module(model, {"encode_image": (images,), "encode_text": (tokens,)}, check_trace=False)
    with torch.no_grad():
        for key, p in traced.named_parameters():
            if key in half:
                p.data = p.data.half()
    torch.jit.save(traced, str(out / "RN50.pt"))


if __name__ == "__main__":
    main()
