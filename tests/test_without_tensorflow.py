"""A PyTorch user needs no TensorFlow: compare(), the widget payload, the static report and the
CLI run with PyTorch models in a process where ``import tensorflow`` (and ``keras``) is made
impossible, and the default embedder is then the PyTorch EfficientNet-Lite0 rebuild (named in
``result.params``). Also: which embedder ``"efficientnet_lite0"`` resolves to, and that the
PyTorch embedder's on-device crops agree with the Keras rebuild on PIL crops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_cnn

ROOT = Path(__file__).resolve().parent.parent

BLOCK = textwrap.dedent("""
    import sys
    class _NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"{name} is blocked in this test")
            return None
    sys.meta_path.insert(0, _NoTensorFlow())
""")


def _run(code: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "run.py"
    script.write_text(BLOCK + textwrap.dedent(code))
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)


@pytest.mark.slow
def test_compare_widget_report_and_cli_without_tensorflow(tmp_path):
    out = _run("""
        import json, subprocess, sys
        import numpy as np, torch
        import imacs_widget as imacs
        from imacs_widget.widget.payload import build_payload
        try:
            import tensorflow  # noqa: F401
            raise SystemExit("tensorflow imported")
        except ImportError:
            pass

        def cnn(seed):
            torch.manual_seed(seed)
            return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                                       torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                       torch.nn.Linear(8, 3))

        rng = np.random.default_rng(0)
        x = (rng.random((12, 32, 32, 3)) * 255).astype(np.uint8)
        y = rng.integers(0, 3, len(x))
        r = imacs.compare(cnn(0), cnn(1), x, y, target_class=0, sampling="all", k=3,
                          n_clusters=3, progress=False)
        payload = build_payload(r)
        r.to_html("report.html")
        r.save("run.imacs")
        back = imacs.load("run.imacs")
        torch.jit.trace(cnn(0), torch.zeros(1, 3, 32, 32)).save("a.pt")
        torch.jit.trace(cnn(1), torch.zeros(1, 3, 32, 32)).save("b.pt")
        np.savez("x.npz", images=x, labels=y)
        from imacs_widget.cli import main
        main(["compare", "--model-a", "a.pt", "--model-b", "b.pt", "--images", "x.npz",
              "--target-class", "0", "--sampling", "all", "--n-clusters", "2", "--k", "2",
              "--out", "cli.imacs"])
        cli = imacs.load("cli.imacs")
        demo_status = main(["demo", "--out", "demo-out"])  # needs Keras: a clear error, status 2
        bad = [m for m in ("tensorflow", "keras") if m in sys.modules]
        print(json.dumps({"embedder": r.params.get("embedder"), "n": len(r.segments),
                          "payload": bool(payload), "loaded": len(back.segments),
                          "cli": len(cli.segments), "bad": bad,
                          "cli_embedder": cli.params.get("embedder"), "demo": demo_status}))
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["bad"] == [] and got["n"] > 0 and got["payload"]
    assert got["loaded"] == got["n"] and got["cli"] > 0
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert got["embedder"] == "efficientnet_lite0_torch"
    assert got["cli_embedder"] == "efficientnet_lite0_torch"
    assert got["demo"] == 2 and "pip install 'imacs-widget[keras]'" in out.stderr


def test_default_embedder_follows_the_models():
    import torch

    from imacs_widget.engine.embedding.embedders import resolve_embedder
    from imacs_widget.models import ModelAdapter

    t = ModelAdapter(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2)))
    k = ModelAdapter(tiny_cnn())
    f = ModelAdapter(lambda b: b.mean(axis=(1, 2)))
    assert resolve_embedder("efficientnet_lite0", [k, t]) == ("efficientnet_lite0_torch", "cpu")
    assert resolve_embedder("efficientnet_lite0", [k])[0] == "efficientnet_lite0_keras"
    assert resolve_embedder("efficientnet_lite0", [f])[0] == "efficientnet_lite0_keras"
    assert resolve_embedder("inception_v3", [t])[0] == "inception_v3"


def test_torch_embedder_crops_on_device_agree_with_keras_on_pil_crops():
    """Every segment of two real photos (a grid and SLIC) embedded by the PyTorch rebuild from
    crops cut on its device and by the Keras rebuild from PIL crops: the two agree (measured
    here: cosine min 0.977, median 0.998 over 23 segments; asserted with margins, as crop
    rounding differs by a grey level between the two cutters)."""
    from skimage import data as skdata

    from imacs_widget.engine.embedding.embedders import get_embedder
    from imacs_widget.engine.embedding.segments import embed_segments
    from imacs_widget.engine.segmentation import grid_segments, slic_segments
    from imacs_widget.models.resize import resize_bilinear

    photos = np.stack([resize_bilinear(p[None].astype(np.float32), (96, 96))[0]
                       for p in (skdata.chelsea(), skdata.coffee())])
    imgs = {0: photos[0], 7: photos[1]}
    maps = {0: grid_segments(96, 96, 4, 4), 7: slic_segments(photos[1], 12)}
    keys = [(0, s) for s in range(16)] + [(7, s) for s in range(int(maps[7].max()) + 1)]
    keys.append((0, 5))  # a repeated key gets the same row
    dev = get_embedder("efficientnet_lite0_torch", device="cpu")
    ker = get_embedder("efficientnet_lite0_keras")
    a = embed_segments(imgs, keys, maps, (0.0, 255.0), dev, progress=False)
    b = embed_segments(imgs, keys, maps, (0.0, 255.0), ker, progress=False)
    assert a.shape == b.shape == (len(keys), 1280)
    np.testing.assert_array_equal(a[5], a[-1])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.95 and np.median(cos) >= 0.99, cos


def test_engine_imports_no_framework():
    """Framework code lives in the backends (models/): no module of engine/ imports TensorFlow,
    Keras, PyTorch or JAX, at the top or inside a function."""
    import ast

    bad = []
    for path in sorted((ROOT / "imacs_widget" / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            bad += [f"{path.name}: {n}" for n in names
                    if n.split(".")[0] in ("tensorflow", "keras", "torch", "jax", "tf_keras")]
    assert not bad, bad
