"""Oracle for `lgd bank`: T computed with open_clip from the tiny random CLIP the towers oracle
writes (its state dict, the same weights as its OpenAI-layout archive), per DESIGN §1.

usage: text_bank_oracle.py DIR NAMES_FILE TEMPLATES_FILE   (DIR holds rn.safetensors)
writes DIR/expected_bank.safetensors with "text_bank" [D, C]
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.tokenizer import tokenize
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))
from clip_towers_oracle import CONFIGS, EMBED_DIM, TEXT  # noqa: E402


def main():
    d = Path(sys.argv[1])
    names = [n.strip() for n in Path(sys.argv[2]).read_text().splitlines() if n.strip()]
    templates = [t.strip() for t in Path(sys.argv[3]).read_text().splitlines() if t.strip()]
    model = CLIP(EMBED_DIM, vision_cfg=CONFIGS["rn"], text_cfg=TEXT, quick_gelu=True).eval()
    model.load_state_dict(load_file(str(d / "rn.safetensors")))
    columns = []
    with torch.no_grad():
        for name in names:
            e = model.encode_text(tokenize([t.replace("{}", name) for t in templates]))  # [K, D]
            columns.append(F.normalize(F.normalize(e, dim=1).mean(dim=0), dim=0))
    save_file({"text_bank": torch.stack(columns, dim=1).contiguous()}, str(d / "expected_bank.safetensors"))


if __name__ == "__main__":
    main()
