"""Writes scikit-image's bundled colour photos as PNG files into the folder given."""
import sys
from pathlib import Path

from PIL import Image
from skimage import data

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for name in ["astronaut", "coffee", "chelsea", "rocket"]:
    Image.fromarray(getattr(data, name)()).convert("RGB").save(out / f"{name}.png")
