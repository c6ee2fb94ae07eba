"""GPU benchmark (issue 19): how close the engine comes to the forward floor of PyTorch models.

    python bench/gpu.py                       # on a GPU machine: 224 px, fp32 and bf16
    python bench/gpu.py --quick               # CPU-sized: 64 px, few images (what CI-class
                                              # machines can run in a minute or two)
    python bench/gpu.py --device cpu --size 224 --images 8 --compare-images 0

In one run, on ``--device`` (default: CUDA when available):

1. **forward floor** per dtype: a ResNet50 (torchvision's where installed, else the one defined
   here: the same bottleneck layout, 10 classes, random weights) called on preallocated device
   tensors, best images/s over several batch sizes;
2. **attribution stage** (what ``compare()`` does per sampled image: blur, leave-one-out
   ranking of a 4x4 grid, exact Shapley over the top 5, every coalition known from the ranking
   reused: 42 forwards per image) through the adapter, masked images composed on the device
   (``masking="auto"``) and, for comparison, in NumPy (``masking="numpy"``); its time per image
   over the floor's time for the same forwards;
3. **host time per masked image outside model calls**: the same stage with a near-free model
   (global average pool + linear), both masking paths, milliseconds per masked image (stage
   figures: the best of ``--repeats`` runs, as other work on the machine only slows a run);
4. ``compare()`` of ``--compare-images`` images (two ResNet50s, ``sampling="all"``, the default
   embedder: the PyTorch EfficientNet-Lite0 on the same device) against the time of the
   forwards of the two compared models it needs (at the floor).

The last line is one JSON object with every figure. Needs torch (``pip install
"imacs-widget[torch]"``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

K = 5
GRID = (4, 4)


# ---------------------------------------------------------------------------------- the model
def resnet50(n_classes: int = 10, seed: int = 0):
    """torchvision's ResNet50 when installed, else the same architecture defined here."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    try:
        from torchvision.models import resnet50 as tv_resnet50

        return tv_resnet50(num_classes=n_classes), "torchvision"
    except ImportError:
        pass

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.down is None else self.down(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            return self.relu(self.bn3(self.conv3(y)) + idt)

    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                   nn.MaxPool2d(3, 2, 1)], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(Bottleneck(cin, width, stride if b == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, n_classes)]
    return nn.Sequential(*layers), "defined in bench/gpu.py"


def near_free(n_classes: int = 10):
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, n_classes))


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------- figures
def forward_floor(model, size: int, device, dtype, batches, seconds: float = 2.0) -> dict:
    """Best images/s of the raw module on preallocated device tensors."""
    import torch

    best, per = 0.0, {}
    with torch.inference_mode():
        for b in batches:
            x = torch.randn(b, 3, size, size, device=device, dtype=dtype)
            try:
                model(x)
                _sync(device)
            except torch.cuda.OutOfMemoryError:
                break
            n, t0 = 0, time.perf_counter()
            while True:
                model(x)
                n += b
                if n >= 2 * b and time.perf_counter() - t0 > seconds / len(batches):
                    break
            _sync(device)
            rate = n / (time.perf_counter() - t0)
            per[b] = round(rate, 1)
            best = max(best, rate)
    return {"img_per_s": round(best, 1), "by_batch": per}


def make_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random 0-255 images with a bright square (blurring changes them)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 3)).astype(np.float32) * 255
    x = gaussian_filter(x, (0, size / 32, size / 32, 0))
    s = size // 4
    for i in range(n):
        r, c = rng.integers(0, size - s, 2)
        x[i, r:r + s, c:c + s] = 255.0
    return x.astype(np.float32)


def attribution_stage(adapter, x: np.ndarray, batch: int, masking: str) -> dict:
    """Blur + LOO ranking + Shapley (42 forwards per image) for every image; seconds and
    forwards per image. The unmasked images' scores (the prediction stage) are not timed."""
    from imacs_widget.engine.masking import baseline_images, default_sigma
    from imacs_widget.engine.ranking import rank_leave_one_out
    from imacs_widget.engine.segmentation import grid_segments
    from imacs_widget.engine.shapley import known_coalitions, segment_shapley

    adapter.masking = masking
    lms = [grid_segments(x.shape[1], x.shape[2], *GRID)] * len(x)
    full, scores = adapter.log_odds(x), adapter.scores(x)
    sigma = default_sigma(*x.shape[1:3])
    blur = getattr(adapter.backend, "device_blur", lambda: None)()
    _sync(adapter.backend.device)
    evals0, t0 = adapter.n_evals, time.perf_counter()
    bl = baseline_images(x, "blur", sigma, blur=blur)
    ranked = rank_leave_one_out(adapter, x, lms, bl, 0, K, full_scores=full, batch_size=batch)
    known = known_coalitions(ranked, scores, ranked.masked_scores)
    segment_shapley(adapter, x, lms, bl, ranked, batch, known=known)
    _sync(adapter.backend.device)
    dt = time.perf_counter() - t0
    n_fw = adapter.n_evals - evals0
    return {"s_per_image": dt / len(x), "forwards_per_image": n_fw / len(x),
            "ms_per_masked_image": 1e3 * dt / n_fw}


def run_compare(model_a, model_b, n: int, size: int, device, batch: int) -> dict:
    import imacs_widget as imacs

    x = make_images(n, size, seed=1)
    y = np.random.default_rng(2).integers(0, 10, n)
    ads = [imacs.ModelAdapter(m, name=nm, preprocess="imagenet", batch_size=batch)
           for m, nm in ((model_a, "A"), (model_b, "B"))]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = imacs.compare(*ads, x, y, target_class=0, sampling="all", n_clusters=8,
                          progress=False)
    _sync(device)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "forwards": int(sum(a.n_evals for a in ads)),
            "segments": int(len(r.segments)), "embedder": r.params.get("embedder")}


def main(argv=None) -> dict:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="cuda, cpu or auto (CUDA when available)")
    ap.add_argument("--size", type=int, default=224, help="image side in pixels")
    ap.add_argument("--images", type=int, default=128, help="images in the attribution stage")
    ap.add_argument("--batch", type=int, default=256, help="masked images per model call")
    ap.add_argument("--dtypes", default="fp32,bf16", help="comma-separated: fp32, bf16")
    ap.add_argument("--compare-images", type=int, default=1000,
                    help="images in the compare() run (0: skip)")
    ap.add_argument("--quick", action="store_true",
                    help="CPU-sized: 64 px, 8 images, compare() of 24, batch 64, fp32")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each attribution-stage figure (the best is kept)")
    a = ap.parse_args(argv)
    if a.quick:
        a.size, a.images, a.compare_images, a.batch, a.dtypes = 64, 8, 24, 64, "fp32"
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if a.device == "auto" else a.device))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from imacs_widget.models import ModelAdapter

    on_gpu = device.type == "cuda"
    batches = (64, 128, 256, 512, 1024) if on_gpu else (16, 32, 64)
    x = make_images(a.images, a.size)
    out = {"device": torch.cuda.get_device_name(device) if on_gpu else platform.processor() or "cpu",
           "torch": torch.__version__, "size": a.size, "images": a.images, "batch": a.batch,
           "cpu_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
    print(f"device {out['device']} ({device}), torch {torch.__version__}, {a.size} px, "
          f"{a.images} images, batch {a.batch}", flush=True)
    model, source = resnet50()
    out["resnet50"] = source
    for name in a.dtypes.split(","):
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[name.strip()]
        m = model.to(device, dtype).eval()
        floor = forward_floor(m, a.size, device, dtype, batches)
        ad = ModelAdapter(m, preprocess="imagenet", batch_size=a.batch)
        attribution_stage(ad, x[:2], a.batch, "auto")  # warm-up (cudnn autotune, allocator)
        row = {"floor_img_per_s": floor["img_per_s"], "floor_by_batch": floor["by_batch"]}
        for masking in ("auto", "numpy"):
            st = min((attribution_stage(ad, x, a.batch, masking) for _ in range(a.repeats)),
                     key=lambda r: r["s_per_image"])
            floor_s = st["forwards_per_image"] / floor["img_per_s"]
            row[masking] = {"ms_per_image": round(1e3 * st["s_per_image"], 2),
                            "forwards_per_image": st["forwards_per_image"],
                            "ratio_to_floor": round(st["s_per_image"] / floor_s, 3)}
        out[name] = row
        print(f"{name}: floor {floor['img_per_s']:.0f} img/s "
              f"({1e3 * row['auto']['forwards_per_image'] / floor['img_per_s']:.2f} ms per image "
              f"for {row['auto']['forwards_per_image']:.0f} forwards); attribution stage "
              f"{row['auto']['ms_per_image']:.2f} ms/img = {row['auto']['ratio_to_floor']:.2f}x "
              f"the floor (NumPy masking: {row['numpy']['ms_per_image']:.2f} ms/img = "
              f"{row['numpy']['ratio_to_floor']:.2f}x)", flush=True)
    free = ModelAdapter(near_free().to(device), preprocess="imagenet", batch_size=a.batch)
    attribution_stage(free, x[:2], a.batch, "auto")
    host = {m: round(min(attribution_stage(free, x, a.batch, m)["ms_per_masked_image"]
                         for _ in range(a.repeats)), 4) for m in ("auto", "numpy")}
    out["host_ms_per_masked_image"] = host
    print(f"near-free model: {host['auto']:.3f} ms per masked {a.size}-px image outside model "
          f"calls with device masking, {host['numpy']:.3f} ms with NumPy masking", flush=True)
    if a.compare_images:
        m32 = model.to(device, torch.float32).eval()
        mb, _ = resnet50(seed=1)
        mb = mb.to(device).eval()
        floor = out.get("fp32", {}).get("floor_img_per_s") or \
            forward_floor(m32, a.size, device, torch.float32, batches)["img_per_s"]
        c = run_compare(m32, mb, a.compare_images, a.size, device, a.batch)
        c["forwards_seconds"] = c["forwards"] / floor
        c["ratio_to_forwards"] = round(c["seconds"] / c["forwards_seconds"], 3)
        out["compare"] = c
        print(f"compare() of {a.compare_images} images: {c['seconds']:.1f} s; its "
              f"{c['forwards']} forwards need {c['forwards_seconds']:.1f} s at the floor: "
              f"{c['ratio_to_forwards']:.2f}x (embedder {c['embedder']})", flush=True)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
