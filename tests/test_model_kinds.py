"""Every model kind as it is: PyTorch modules, Hugging Face classifiers, ONNX Runtime sessions,
Keras on its PyTorch backend — each a real instance, built (and briefly trained) in the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import quick_compare, tiny_cnn, torch_cnn

from imacs_widget.errors import ImacsInputError
from imacs_widget.models import ModelAdapter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SIZE = 32


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    x = (rng.random((48, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    return x, rng.integers(0, 3, len(x))


def _compare(ma, mb, data, **kw):
    return quick_compare(ma, mb, *data, **kw)


# ---------------------------------------------------------------------------------- PyTorch


def test_torch_module_as_it_is(images):
    import torch

    m = torch_cnn()
    m.train()  # the adapter must switch to eval (dropout off)
    x, _ = images
    ad = ModelAdapter(m)
    assert ad.kind == "torch" and ad.preprocess_name == "unit_range" and not m.training
    got = ad.raw(x[:5].astype(np.float32))
    with torch.no_grad():  # the documented convention: float 0..1 [N, 3, H, W]
        ref = m(torch.from_numpy(x[:5].astype(np.float32) / 255.0).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    ad.pixel_range = (0.0, 1.0)  # the same images as 0..1 floats give the same outputs
    np.testing.assert_allclose(ad.raw(x[:5] / np.float32(255.0)), ref, rtol=1e-5, atol=1e-6)
    assert ad.returns == "logits"


def test_compare_torch_against_keras(images):
    r = _compare(torch_cnn(), tiny_cnn(seed=1), images)
    assert set(r.segments["model"]) == {"A", "B"} and r.n_clusters == 3
    again = _compare(torch_cnn(), tiny_cnn(seed=1), images)
    np.testing.assert_array_equal(r.segments["attribution"], again.segments["attribution"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_torch_models(images, dtype):
    import torch

    m32 = torch_cnn()
    m16 = torch_cnn().to(getattr(torch, dtype))
    x = images[0][:8].astype(np.float32)
    a = ModelAdapter(m32).raw(x)
    b = ModelAdapter(m16).raw(x)
    assert b.dtype == np.float64
    np.testing.assert_allclose(a, b, atol=0.05)


def test_torch_gradients_for_xrai(images):
    """A linear torch model: the gradient of its logit is its weight map (times the 1/255
    of the unit_range preprocessing), so Guided-IG/XRAI rank the heavy cells first."""
    import torch

    from imacs_widget.engine.masking import blur_images
    from imacs_widget.engine.ranking import rank_xrai_guided_ig
    from imacs_widget.engine.segmentation import grid_segments

    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * SIZE * SIZE, 2))
    with torch.no_grad():
        lin[1].weight.zero_()
        w = lin[1].weight[0].view(3, SIZE, SIZE)
        w[:, :8, :8] = 1.0  # only the top-left cell of the 4x4 grid counts for class 0
    ad = ModelAdapter(lin, returns="logits", score="logit")
    x = images[0][:2].astype(np.float32)
    fn, n_classes, s0 = ad.gradient_function(x[:1])
    g, out = fn(x[:1], np.array([1.0, 0.0], np.float32))
    assert n_classes == 2 and g.shape == (1, SIZE, SIZE, 3)
    np.testing.assert_allclose(g[0, :8, :8], 1 / 255.0, rtol=1e-5)
    assert np.abs(g[0, 8:, :]).max() == 0
    ranked = rank_xrai_guided_ig(ad, x, [grid_segments(SIZE, SIZE, 4, 4)] * 2, blur_images(x), 0,
                                 2, steps=4, baseline="black", regions="label_map")
    assert all(r[0] == 0 for r in ranked)


def test_torchscript_module(images):
    import torch

    m = torch_cnn()
    m.eval()
    scripted = torch.jit.trace(m, torch.zeros(1, 3, SIZE, SIZE))
    x = images[0][:4].astype(np.float32)
    np.testing.assert_allclose(ModelAdapter(scripted).raw(x), ModelAdapter(m).raw(x), atol=1e-5)


# --------------------------------------------------------------------------------- Hugging Face


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """A real ViT image classifier from a small config, saved with its processor."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=SIZE, patch_size=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64, num_labels=3,
                    id2label={0: "circle", 1: "square", 2: "triangle"},
                    label2id={"circle": 0, "square": 1, "triangle": 2})
    model = ViTForImageClassification(cfg)
    proc = ViTImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3,
                             image_std=[0.5] * 3)
    folder = tmp_path_factory.mktemp("vit")
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


def test_huggingface_model_with_its_processor(hf_folder, images):
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(hf_folder)
    proc = AutoImageProcessor.from_pretrained(hf_folder)
    x = images[0][:4]
    ad = ModelAdapter(model)  # processor loaded from the model's folder (local files only)
    assert ad.kind == "huggingface" and ad.class_names == ["circle", "square", "triangle"]
    with torch.no_grad():
        ref = model(**proc(images=list(x), return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(ad.raw(x.astype(np.float32)), ref, atol=1e-4)
    explicit = ModelAdapter(model, preprocess=proc)
    np.testing.assert_allclose(explicit.raw(x.astype(np.float32)), ref, atol=1e-4)


def test_compare_huggingface_takes_class_names_from_id2label(hf_folder, images):
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(hf_folder)
    r = _compare(model, torch_cnn(), images, target_class="triangle")
    assert r.class_names == ["circle", "square", "triangle"] and r.target_class == "triangle"
    with pytest.raises(ImacsInputError, match="ranking='xrai' needs gradients"):
        _compare(model, torch_cnn(), images, target_class="triangle", ranking="xrai")


def test_huggingface_without_processor_names_the_fix():
    from transformers import ViTConfig, ViTForImageClassification

    model = ViTForImageClassification(ViTConfig(image_size=SIZE, patch_size=8, hidden_size=32,
                                                num_hidden_layers=1, num_attention_heads=2,
                                                intermediate_size=64, num_labels=3))
    with pytest.raises(ImacsInputError, match="image processor"):
        ModelAdapter(model, name="model_a")


# ----------------------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    import torch

    m = torch_cnn(seed=3)
    m.eval()
    path = tmp_path_factory.mktemp("onnx") / "cnn.onnx"
    torch.onnx.export(m, torch.zeros(1, 3, SIZE, SIZE), str(path), dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return path, m


def test_onnx_path_and_session_match_torch(onnx_path, images):
    import onnxruntime as ort

    path, m = onnx_path
    x = images[0][:6].astype(np.float32)
    ref = ModelAdapter(m).raw(x)
    by_path = ModelAdapter(path)
    sess = ModelAdapter(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
    assert by_path.kind == sess.kind == "onnx" and by_path.input_size == (SIZE, SIZE)
    np.testing.assert_allclose(by_path.raw(x), ref, atol=1e-5)
    np.testing.assert_allclose(sess.raw(x), ref, atol=1e-5)
    assert by_path.fingerprint() != ModelAdapter(m).fingerprint()


def test_compare_onnx(onnx_path, images):
    r = _compare(str(onnx_path[0]), onnx_path[1], images)
    assert len(r.segments) == 2 * 48 * 3
    with pytest.raises(ImacsInputError, match="model_a.*does not exist"):
        ModelAdapter(Path("missing.onnx"), name="model_a")


# ------------------------------------------------------------------------ Keras, other backends

CHILD = """
import os, sys, warnings
os.environ["KERAS_BACKEND"] = {backend!r}
sys.path[:0] = [{root!r}, {tests!r}]
import numpy as np, keras
assert keras.backend.backend() == {backend!r}
import imacs_widget as imacs
from conftest import tiny_cnn, tiny_embedder
rng = np.random.default_rng(0)
x = (rng.random((24, 32, 32, 3)) * 255).astype(np.uint8)
y = rng.integers(0, 3, 24)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    r = imacs.compare(tiny_cnn(seed=1), tiny_cnn(seed=2), x, y, target_class=0, sampling="all",
                      n_clusters=3, k=3, embedder=tiny_embedder(), progress=False)
print("segments", len(r.segments), "tensorflow" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_keras_on_other_backends(backend):
    code = CHILD.format(backend=backend, root=str(ROOT), tests=str(TESTS))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "segments 144" in out.stdout  # 24 images x 2 models x k=3


def test_keras_model_does_not_import_torch(images):
    code = (f"import sys, numpy as np; sys.path[:0] = [{str(TESTS)!r}]; "
            "from conftest import tiny_cnn; from imacs_widget.models import ModelAdapter; "
            "ModelAdapter(tiny_cnn()).raw(np.zeros((2, 32, 32, 3), np.float32)); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
