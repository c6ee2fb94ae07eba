"""Notebook sources used by the browser tests and the benchmark."""

from __future__ import annotations

# A small REAL comparison: two tiny Keras CNNs built in the notebook on generated images
# (model A trained for a few epochs, model B untrained — the paper's §6.1 sanity check), run
# through imacs.compare(). A colour-statistics embedder keeps it fast (the default
# EfficientNet-Lite0 embedder is exercised by the engine tests).
REAL_COMPARE = '''\
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import time
import numpy as np
import keras
import imacs_widget as imacs
from imacs_widget.engine.embedding.embedders import Embedder
from imacs_widget.demo.scenario import make_dataset

t0 = time.monotonic()
images, labels, names = make_dataset(n_per_class=24, image_size=32, n_classes=3, seed=0)

def tiny_cnn(seed, epochs):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    if epochs:
        m.fit(images, labels, epochs=epochs, batch_size=32, verbose=0)
    return m

def colour_stats(crops):
    c = np.asarray(crops, np.float32) / 255.0
    return np.concatenate([c.mean(axis=(1, 2)), c.std(axis=(1, 2)),
                           c[:, ::4, ::4].reshape(len(c), -1)], axis=1)

model_a = tiny_cnn(0, epochs=3)
model_b = tiny_cnn(1, epochs=0)
result = imacs.compare(model_a, model_b, images, labels, class_names=names,
                       target_class=names[0], n_clusters=3, n_per_model=12, grid=(3, 3), k=3,
                       seed=0, embedder=Embedder(colour_stats, 16, "colour-stats"),
                       progress=False)
print(result, f"built in {time.monotonic() - t0:.1f}s")
'''

SHOW_WIDGET = '''\
w = result.widget()
w
'''

# Three models of the same notebook (after REAL_COMPARE): a third CNN, one epoch.
THREE_MODELS = '''\
model_c = tiny_cnn(2, epochs=1)
result3 = imacs.compare({"trained": model_a, "untrained": model_b, "one epoch": model_c},
                        images, labels, class_names=names, target_class=names[0], n_clusters=3,
                        n_per_model=12, grid=(3, 3), k=3, seed=0,
                        embedder=Embedder(colour_stats, 16, "colour-stats"), progress=False)
print("THREE", " ".join(f"{c['id']}:{c['consensus']['n']}/{c['consensus']['of']}"
                        for c in result3.clusters if c["size"]))
result3.sanity_check(n_images=4, progress=False)
print("SANITY", " ".join("pass" if result3.sanity_verdicts[m]["passed"] else "fail" for m in "ABC"))
pics = result3.class_pictures(n_starts=4, steps=5, progress=False)
print("PICTURES", " ".join(f"{r.model}:{r.picture.shape[1]}" for r in pics.itertuples()))
w3 = result3.widget()
w3
'''

# Dataset against dataset (after REAL_COMPARE): model A on the images and on their negatives.
DATASETS = '''\
result_ds = imacs.compare_datasets(model_a, images, 255 - images, labels, labels,
                                   name_a="originals", name_b="negatives", class_names=names,
                                   target_class=names[0], n_clusters=3, n_per_model=12,
                                   grid=(3, 3), k=3, seed=0,
                                   embedder=Embedder(colour_stats, 16, "colour-stats"),
                                   progress=False)
print("DATASETS", result_ds.model_names["A"], result_ds.model_names["B"],
      len(result_ds.segments))
result_ds.widget()
'''

# Re-run after interacting: the kernel-side state.
PRINT_STATE = '''\
print(f"STATE n_clusters={w.n_clusters} clusters={len(result.clusters)} "
      f"selected={w.selected_cluster} map={result.map_method} "
      f"lasso={0 if result.selection is None else len(result.selection)} "
      f"named={sum(1 for c in result.clusters if c.get('name'))} "
      f"tested={len(getattr(result, 'interventions', {}))}")
'''


def synthetic_cells(n_segments: int, n_clusters: int = 8) -> list[str]:
    """Cells showing a synthetic result of ``n_segments`` segments (benchmark)."""
    setup = f'''\
import sys
sys.path.insert(0, {str(_tests_dir())!r})
from synthetic_result import make_result
result = make_result({int(n_segments)}, n_clusters={int(n_clusters)}, seed=0)
'''
    return [setup, SHOW_WIDGET, PRINT_STATE]


def _tests_dir():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
