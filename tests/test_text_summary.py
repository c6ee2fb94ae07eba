"""summary_text's first line names each model once: "A = baseline", never "A = A" or
"A = A (clean)" (a name that starts with its key is said as it is)."""

from __future__ import annotations

import pytest
from synthetic_result import make_result


@pytest.mark.parametrize("names, expected", [
    ({"A": "baseline", "B": "watermarked"}, "A = baseline, B = watermarked"),
    ({"A": "A", "B": "B"}, ": A, B"),
    ({"A": "A (clean)", "B": "B (watermark-trained)"}, ": A (clean), B (watermark-trained)"),
    ({"A": "A", "B": "v2"}, ": A, B = v2"),
])
def test_model_names_are_said_once(names, expected):
    first = make_result(200, 4, model_names=names).summary_text().splitlines()[0]
    assert first.endswith(expected), first


def test_sampling_shortfalls_are_one_warning_at_the_callers_line(tiny_models, tiny_images):
    """A class's sampling shortfalls come as one ImacsWarning (not one per cell), attributed to
    the line that called compare() — here, this test file."""
    import warnings

    from conftest import tiny_embedder

    import imacs_widget as imacs

    x, y = tiny_images
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        imacs.compare(tiny_models[0], tiny_models[1], x[:24], y[:24], target_class=0,
                      n_per_model=40, k=2, n_clusters=2, embedder=tiny_embedder(),
                      progress=False)
    ours = [w for w in got if issubclass(w.category, imacs.ImacsWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert str(ours[0].message).startswith("sampling for class ") and "asked for" in str(ours[0].message)
    assert ours[0].filename == __file__
