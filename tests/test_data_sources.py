"""Evaluation data as users have it: lists of any-sized images, files, folders, datasets.

Each kind is a real instance (files written here, a torch Dataset / DataLoader, a Hugging Face
``datasets.Dataset``, a ``tf.data.Dataset``), run through ``compare()`` with real models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import quick_compare, tiny_cnn, tiny_embedder

import imacs_widget as imacs
from imacs_widget.data import as_image_source, folder_source
from imacs_widget.errors import ImacsInputError

NAMES = ["ant", "bee", "cat"]
N = 36


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return (rng.random((N, 32, 32, 3)) * 255).astype(np.uint8), rng.integers(0, 3, N)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data):
    """An ImageFolder tree: root/<class>/<file>.png, plus one corrupt file."""
    from PIL import Image

    x, y = data
    root = tmp_path_factory.mktemp("folder")
    for c in NAMES:
        (root / c).mkdir()
    for i, (im, lab) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(im).save(root / NAMES[lab] / f"{i:03d}.png")
    return root


def _compare(images, labels=None, models=None, **kw):
    ma, mb = models or (tiny_cnn(seed=1), tiny_cnn(seed=2))
    return quick_compare(ma, mb, images, labels, **kw)


@pytest.fixture(scope="module")
def reference(data):
    x, y = data
    return _compare(x, y, class_names=NAMES)


def _same_attributions(a, b):
    key = ["model", "image_index", "segment_index"]
    sa = a.segments.sort_values(key).reset_index(drop=True)
    sb = b.segments.sort_values(key).reset_index(drop=True)
    assert len(sa) == 2 * N * 3  # sampling="all", k=3: every image, both models
    np.testing.assert_array_equal(sa[key].to_numpy(), sb[key].to_numpy())
    np.testing.assert_allclose(sa["attribution"], sb["attribution"], atol=1e-6)


def test_array_segments_lead_back_to_their_index(reference):
    seg = reference.segments
    assert len(seg) == 2 * N * 3 and seg["image_index"].nunique() == N
    assert seg["source"].tolist() == [f"images[{i}]" for i in seg["image_index"]]


def test_folder_gives_labels_class_names_and_paths(folder, data, reference):
    src = folder_source(folder)
    assert src.class_names == NAMES and len(src) == N
    r = _compare(folder)  # no labels, no class names: the folder has both
    assert r.class_names == NAMES
    seg = r.segments
    paths = [Path(p) for p in seg["source"]]
    assert len(paths) == 2 * N * 3 and len(set(paths)) == N
    assert [p.parent.name for p in paths] == [NAMES[lab] for lab in seg["label"]]
    assert set(paths) == set(src.paths)
    # the same images as the array run (sorted by class folder, then name): same attributions
    x, y = data
    order = [int(Path(p).stem) for p in src.paths]
    again = _compare(x[order], y[order], class_names=NAMES)
    _same_attributions(r, again)


def test_pytorch_model_on_a_folder_without_a_wrapper(folder):
    from test_model_kinds import torch_cnn

    r = _compare(folder, models=(torch_cnn(seed=1), torch_cnn(seed=2)))
    assert r.class_names == NAMES and len(r.segments) == 2 * N * 3
    w = r.widget()  # the widget shows every segment of the folder's images
    assert w._payload["n_segments"] == len(r.segments) and w.n_clusters == r.n_clusters


def test_unreadable_file_is_skipped_with_a_warning(folder, tmp_path):
    import shutil

    root = tmp_path / "f"
    shutil.copytree(folder, root)
    bad = root / "bee" / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.warns(imacs.ImacsWarning, match="broken.png"):
        r = imacs.compare(tiny_cnn(seed=1), tiny_cnn(seed=2), root, target_class="ant",
                          sampling="all", n_clusters=3, k=3, embedder=tiny_embedder(),
                          progress=False)
    sources = set(r.segments["source"])
    assert str(bad) not in sources
    assert r.segments["image_index"].nunique() == N  # every readable image, none lost
    assert len(sources) == N and all(Path(p).is_file() for p in sources)


def test_folder_errors_name_the_argument(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a" / "x.png")
    with pytest.raises(ImacsInputError, match=r"^images: class folder .*b has no image files"):
        folder_source(tmp_path)
    with pytest.raises(ImacsInputError, match="^images: .* no class sub-folders and no image"):
        folder_source(tmp_path / "b")


def test_lists_of_any_sized_images_and_paths(data, folder):
    from PIL import Image

    x, y = data
    mixed = [Image.fromarray(im) if i % 3 == 0 else
             np.asarray(Image.fromarray(im).resize((40, 48))) if i % 3 == 1 else im
             for i, im in enumerate(x)]
    src = as_image_source(mixed)
    assert src.image_shape == (32, 32)  # the most common size (24 of 36 images)
    r = _compare(mixed, list(y), class_names=NAMES)
    assert r.segments["image_index"].nunique() == N
    assert as_image_source(mixed, image_size=(48, 40)).image_shape == (48, 40)
    paths = sorted(str(p) for p in Path(folder).rglob("*.png"))
    labels = [Path(p).parent.name for p in paths]
    rp = _compare(paths, labels, class_names=NAMES)
    assert set(rp.segments["source"]) == set(paths)  # sampling="all": every file, by its path


def test_label_errors(data):
    x, y = data
    with pytest.raises(ImacsInputError, match="^labels: mix class names and class indices"):
        _compare(list(x), ["ant"] + [int(v) for v in y[1:]], class_names=NAMES)
    with pytest.raises(ImacsInputError, match="^labels: are required"):
        _compare(list(x))
    with pytest.raises(ImacsInputError, match="^labels: has 3 entries"):
        _compare(x, y[:3])


def test_torch_dataset_and_dataloader(data, reference):
    import torch
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    x, y = data

    class Pets(Dataset):  # images as ToTensor gives them: float 0..1, channels first
        classes = NAMES

        def __len__(self):
            return N

        def __getitem__(self, i):
            return torch.from_numpy(x[i].astype(np.float32) / 255.0).permute(2, 0, 1), int(y[i])

    r = _compare(Pets())
    assert r.class_names == NAMES
    assert r.segments["source"].tolist() == [f"dataset[{i}]" for i in r.segments["image_index"]]
    _same_attributions(r, _compare(x.astype(np.float32) / 255.0, y, class_names=NAMES))
    tensors = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))  # uint8 HWC tensors
    loader = DataLoader(tensors, batch_size=8)
    _same_attributions(_compare(loader, class_names=NAMES), reference)


def test_huggingface_dataset(data, reference):
    import datasets
    from PIL import Image

    x, y = data
    ds = datasets.Dataset.from_dict(
        {"img": [Image.fromarray(im) for im in x], "fine": [int(v) for v in y]},
        features=datasets.Features({"img": datasets.Image(),
                                    "fine": datasets.ClassLabel(names=NAMES)}))
    r = _compare(ds)  # columns detected by their feature types
    assert r.class_names == NAMES
    _same_attributions(r, reference)
    with pytest.raises(ImacsInputError, match="^labels: column 'nope'"):
        as_image_source(ds, label_column="nope")


def test_tf_data_dataset(data, reference):
    import tensorflow as tf

    x, y = data
    unbatched = tf.data.Dataset.from_tensor_slices((x, y))
    _same_attributions(_compare(unbatched, class_names=NAMES), reference)
    batched = tf.data.Dataset.from_tensor_slices({"image": x, "label": y}).batch(10)
    _same_attributions(_compare(batched, class_names=NAMES), reference)
