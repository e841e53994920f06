"""Oracle for the CLIP tokenizer: open_clip's SimpleTokenizer (open-clip-torch, pinned in
scripts/requirements.txt) on the strings the Rust test hands over.

Reads IN_JSON = {"groups": {name: [str, ...]}} and writes OUT_DIR/<group>.safetensors with
  ids      int32 [total]        every string's encode() ids (no start/end), concatenated
  offsets  int64 [strings + 1]  where each string's ids start
  context  int32 [strings, 77]  open_clip's tokenize() output (start, ids, end, zero padding;
                                truncated with end-of-text last when too long)
and OUT_DIR/report.json with, per group, the strings whose ftfy.fix_text result depends on its
mojibake repair (fix_encoding, which lgd does not reproduce), and the HTML5 entity table.

usage: clip_tokenizer_oracle.py IN_JSON OUT_DIR
"""

import html.entities
import json
import sys
from pathlib import Path

import ftfy
import numpy as np
from open_clip.tokenizer import SimpleTokenizer
from safetensors.numpy import save_file


def main():
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    groups = json.loads(source.read_text(encoding="utf-8"))["groups"]
    tokenizer = SimpleTokenizer()
    assert tokenizer.vocab_size == 49408, tokenizer.vocab_size
    report = {"fix_encoding_changes": {}, "html5": dict(html.entities.html5)}
    for name, texts in groups.items():
        encoded = [tokenizer.encode(t) for t in texts]
        offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
        ids = np.array([i for e in encoded for i in e], dtype=np.int32)
        context = tokenizer(texts).numpy().astype(np.int32)  # [strings, 77]
        save_file({"ids": ids, "offsets": offsets, "context": context}, str(out / f"{name}.safetensors"))
        report["fix_encoding_changes"][name] = [t for t in texts if ftfy.fix_text(t) != ftfy.fix_text(t, fix_encoding=False)]
        print(f"{name}: {len(texts)} strings, {len(ids)} ids")
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
