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
