"""Loss and gradients of one batch by PyTorch autograd (float64), for AutogradTests.swift.

usage: autograd.py BUNDLE BATCH_JSON OUT_JSON
BATCH_JSON: {"long": "sdim"|"full"|"none", "labels": [...], "candidates": [[item, category, text slot]...],
             "histories": [[[item, category, feedback, text slot], ...], ...], "texts": [[384 floats], ...]}
OUT_JSON:   {"loss": float, "gradients": {tensor name: [floats, row-major]}}
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "python"))

import lifelong.torch as lt  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    bundle, batch_path, out_path = sys.argv[1:4]
    model, _ = lt.load_bundle(bundle, dtype=torch.float64)
    spec = json.loads(Path(batch_path).read_text())
    texts = torch.tensor(spec["texts"], dtype=torch.float64) if spec["texts"] else None
    B = len(spec["candidates"])
    L = max([len(h) for h in spec["histories"]] + [1])

    def text_rows(slots: torch.Tensor) -> torch.Tensor:
        if texts is None:
            return None
        out = torch.zeros(*slots.shape, 384, dtype=torch.float64)
        has = slots >= 0
        out[has] = texts[slots[has]]
        return out

    cand = torch.tensor(spec["candidates"], dtype=torch.long).reshape(B, 3)
    hist = torch.zeros(B, L, 4, dtype=torch.long)
    hist[:, :, 3] = -1
    lengths = torch.zeros(B, dtype=torch.long)
    for b, h in enumerate(spec["histories"]):
        if h:
            hist[b, :len(h)] = torch.tensor(h, dtype=torch.long)
        lengths[b] = len(h)
    batch = lt.Batch(cand[:, 0], cand[:, 1], hist[:, :, 0], hist[:, :, 1], lengths, hist[:, :, 2],
                     text_rows(cand[:, 2]), text_rows(hist[:, :, 3]))
    labels = torch.tensor(spec["labels"], dtype=torch.float64)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch, spec["long"]), labels)
    loss.backward()
    gradients = {name: (t.grad if t.grad is not None else torch.zeros_like(t)).reshape(-1).tolist()
                 for name, t in model.named_bundle_tensors().items() if name != "sdim.projection"}
    Path(out_path).write_text(json.dumps({"loss": loss.item(), "gradients": gradients}))


if __name__ == "__main__":
    main()
