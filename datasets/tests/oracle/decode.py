"""Oracle for decoding: what torchvision's ImageFolder loader (`Image.open(f).convert("RGB")`) sees.

Usage: python decode.py OUTDIR
Encodes scikit-image photos in many layouts (JPEG baseline / progressive / grey / CMYK / 4:4:4,
PNG 8-bit RGB, RGBA, grey, grey+alpha, palette, palette+transparency, 16-bit RGB and grey, GIF,
BMP, TIFF, WebP lossless), and writes beside each file the raw RGB bytes PIL decodes from it
(`<file>.rgb`) plus OUTDIR/files.json with the sizes.
16-bit grey: PIL clips I;16 to 255 on convert("RGB"); the expected bytes are the high byte instead
(the decoder's documented deviation).
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import skimage.data
from PIL import Image


def png16(path, arr):
    """A 16-bit PNG (RGB or grey) written by hand: PIL cannot write 16-bit RGB."""
    h, w = arr.shape[:2]
    color = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    astro = Image.fromarray(skimage.data.astronaut())
    coffee = Image.fromarray(skimage.data.coffee())
    chelsea = Image.fromarray(skimage.data.chelsea())
    rng = np.random.default_rng(5)
    files = []

    def add(name, writer, expected=None):
        path = os.path.join(out, name)
        writer(path)
        if expected is None:
            expected = np.asarray(Image.open(path).convert("RGB"))
        h, w = expected.shape[:2]
        expected.astype(np.uint8).tofile(path + ".rgb")
        files.append({"path": path, "width": w, "height": h})

    add("baseline_420.jpg", lambda p: astro.save(p, quality=90))
    add("baseline_444.jpg", lambda p: coffee.save(p, quality=95, subsampling=0))
    add("progressive.jpg", lambda p: chelsea.save(p, quality=85, progressive=True))
    add("odd_size_422.jpg", lambda p: astro.crop((3, 5, 3 + 301, 5 + 197)).save(p, quality=80, subsampling=1))
    add("grey.jpg", lambda p: coffee.convert("L").save(p, quality=90))
    add("cmyk.jpg", lambda p: chelsea.convert("CMYK").save(p, quality=92))
    add("rgb8.png", lambda p: coffee.save(p))
    rgba = chelsea.copy()
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (chelsea.height, chelsea.width), dtype=np.uint8)))
    add("rgba8.png", lambda p: rgba.save(p))
    add("grey8.png", lambda p: astro.convert("L").save(p))
    add("grey_alpha.png", lambda p: rgba.convert("LA").save(p))
    add("palette.png", lambda p: astro.convert("P", palette=Image.Palette.ADAPTIVE, colors=200).save(p))
    add("palette_trns.png", lambda p: chelsea.convert("P", palette=Image.Palette.ADAPTIVE).save(p, transparency=3))
    add("bilevel.png", lambda p: coffee.convert("1").save(p))
    a16 = rng.integers(0, 65536, (67, 91, 3), dtype=np.uint16)
    add("rgb16.png", lambda p: png16(p, a16))
    g16 = rng.integers(0, 65536, (53, 44), dtype=np.uint16)
    add("grey16.png", lambda p: png16(p, g16), expected=np.repeat((g16 >> 8)[..., None], 3, -1))
    add("anim.gif", lambda p: astro.convert("P", palette=Image.Palette.ADAPTIVE).save(p))
    add("rgb.bmp", lambda p: chelsea.save(p))
    add("rgb.tiff", lambda p: coffee.save(p))
    add("lossless.webp", lambda p: chelsea.save(p, lossless=True))
    with open(os.path.join(out, "files.json"), "w") as f:
        json.dump(files, f)


if __name__ == "__main__":
    main()
