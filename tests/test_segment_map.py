"""The segment map (engine/projection.py) and the selection API of a result."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_embedder

import imacs_widget as imacs
from imacs_widget.engine import projection
from imacs_widget.engine.projection import project
from imacs_widget.errors import ImacsInputError


def blobs(n_per=150, d=40, seed=0):
    """Three well-separated groups of embeddings (and which group each row is)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 6
    x = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(3), n_per)


def purity(xy, group, k=10):
    """Share of each point's k nearest map neighbours from its own group."""
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)
    return float((group[idx[:, 1:]] == group[:, None]).mean())


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_similar_embeddings_lie_together(method):
    x, g = blobs()
    xy, used = project(x, method, seed=0)
    assert used == method
    assert xy.shape == (len(x), 2) and xy.dtype == np.float32
    assert xy.min() >= 0 and xy.max() <= 1 + 1e-6
    assert purity(xy, g) > 0.95
    again, _ = project(x, method, seed=0)
    np.testing.assert_array_equal(xy, again)  # same inputs and seed: the same map


def test_beyond_the_fitted_sample_points_are_placed_by_their_neighbours():
    x, g = blobs(n_per=400)
    xy, _ = project(x, "tsne", seed=1, fit_points=150)
    assert purity(xy, g) > 0.95


def test_method_choice(monkeypatch):
    assert projection.resolve_method("auto") == "umap"  # umap-learn is in the test extra
    monkeypatch.setattr(projection.importlib.util, "find_spec", lambda name: None)
    assert projection.resolve_method("auto") == "tsne"
    with pytest.raises(ImacsInputError, match="method.*umap-learn.*imacs-widget\\[map\\]"):
        projection.resolve_method("umap")
    with pytest.raises(ImacsInputError, match="method.*must be one of"):
        projection.resolve_method("mds")


def test_tiny_and_degenerate_inputs():
    assert project(np.zeros((0, 8)), "pca")[0].shape == (0, 2)
    one = project(np.ones((1, 8), np.float32), "tsne")[0]
    np.testing.assert_array_equal(one, [[0.5, 0.5]])
    same = project(np.ones((10, 8), np.float32), "tsne")[0]
    assert np.isfinite(same).all()


@pytest.fixture(scope="module")
def result(tiny_models, tiny_images):
    x, y = tiny_images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", imacs.ImacsWarning)
        return imacs.compare(tiny_models[0], tiny_models[1], x, y, target_class=0,
                             n_per_model=24, n_clusters=4, k=3, embedder=tiny_embedder(),
                             progress=False)


def test_result_segment_map_is_kept_and_saved(result, tmp_path):
    assert result.map_method is None and "map_x" not in result.segments
    m = result.segment_map(method="tsne")
    assert list(m.columns) == ["map_x", "map_y", "model", "cluster", "attribution"]
    assert result.map_method == "tsne" and result.params["map_method"] == {"0": "tsne"}
    before = result.segments[["map_x", "map_y"]].copy()
    result.segment_map()  # computed once: not recomputed with another method
    pd.testing.assert_frame_equal(result.segments[["map_x", "map_y"]], before)
    result.recluster(3)  # the map is the embeddings', not the clusters'
    pd.testing.assert_frame_equal(result.segments[["map_x", "map_y"]], before)
    back = imacs.load(result.save(tmp_path / "map.imacs"))
    assert back.map_method == "tsne"
    pd.testing.assert_frame_equal(back.segments[["map_x", "map_y"]], before)


def test_selection(result):
    assert result.selection is None
    result.selection = [5, 2, 2]
    sel = result.selection
    assert list(sel.index) == list(result.segments.index[[2, 5]])
    result.selection = []
    assert result.selection is not None and result.selection.empty
    result.selection = None
    assert result.selection is None
    for bad in ([len(result.segments)], [-1], [0.5], [[1, 2]]):
        with pytest.raises(ImacsInputError, match="selection"):
            result.selection = bad
