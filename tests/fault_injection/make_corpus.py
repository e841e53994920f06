"""Writes the fault suite's image corpus: valid images in every format lgd must read, and bad
files of every kind it must survive. Usage: make_corpus.py ROOT. Prints {"valid": [...], "bad": [...]}
(paths relative to ROOT) as JSON."""
import io
import json
import os
import random
import struct
import sys
import zlib

from PIL import Image

root = sys.argv[1]
rng = random.Random(5)
valid, bad = [], []


def photo(w, h, mode="RGB"):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 7 + y) % 256, (y * 5) % 256, (x * y) % 256) for y in range(h) for x in range(w)])
    return img.convert(mode) if mode != "RGB" else img


def put(kind, name, data):
    path = os.path.join(root, kind, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return os.path.join(kind, name)


def encoded(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


for i in range(8):
    valid.append(put("a", f"plain_{i}.jpg", encoded(photo(60 + i, 48), "JPEG", quality=90)))
valid.append(put("a", "progressive.jpg", encoded(photo(64, 50), "JPEG", progressive=True)))
valid.append(put("a", "cmyk.jpg", encoded(photo(64, 50, "CMYK"), "JPEG")))
valid.append(put("a", "gray.jpg", encoded(photo(64, 50, "L"), "JPEG")))
valid.append(put("b", "sixteen_bit.png", encoded(Image.frombytes("I;16", (40, 30), bytes(rng.getrandbits(8) for _ in range(2400))), "PNG")))
valid.append(put("b", "palette.png", encoded(photo(40, 30).convert("P", palette=Image.ADAPTIVE), "PNG")))
valid.append(put("b", "alpha.png", encoded(photo(40, 30, "RGBA"), "PNG")))
valid.append(put("b", "one_pixel.png", encoded(photo(1, 1), "PNG")))
for i in range(8):
    valid.append(put("b", f"plain_{i}.png", encoded(photo(50, 40 + i), "PNG")))

whole = encoded(photo(80, 60), "JPEG")
bad.append(put("a", "truncated.jpg", whole[: len(whole) * 2 // 5]))
bad.append(put("a", "zero_bytes.jpg", b""))
bad.append(put("b", "random_bytes.jpg", bytes(rng.getrandbits(8) for _ in range(5000))))


def chunk(tag, body):
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


# A 20000 x 20000 RGB PNG header with a tiny compressed body: a decompression bomb if believed.
ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 60001)) + chunk(b"IEND", b"")
bad.append(put("b", "declared_20000x20000.png", bomb))

# A folder named like an image: walked as a folder (as torchvision does), never read as a file.
os.makedirs(os.path.join(root, "a", "folder.jpg"), exist_ok=True)
# A dangling link named like an image: listed, unreadable.
os.symlink(os.path.join(root, "does-not-exist.jpg"), os.path.join(root, "b", "dangling.jpg"))
bad.append(os.path.join("b", "dangling.jpg"))
# No read permission: unreadable for anyone but root (root reads it: then it is a valid file).
locked = put("a", "no_permission.jpg", encoded(photo(60, 48), "JPEG"))
os.chmod(os.path.join(root, locked), 0)
(valid if os.geteuid() == 0 else bad).append(locked)

print(json.dumps({"valid": valid, "bad": bad}))
