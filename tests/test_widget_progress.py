"""The widget's ``_progress`` trait while the ``_intervene`` command runs a real what-if test
of a real (small) comparison: set from the test's progress ticks, throttled, None at the end,
also when the test fails half-way."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import quick_compare

from imacs_widget.widget import ImacsWidget
from imacs_widget.widget import commands as widget_commands


class ColourModel:
    """A small real classifier on NumPy images: logits from mean colour per image quadrant.
    ``fail_after`` calls from now on it raises (a model that breaks half-way, e.g. out of
    memory); None: never."""

    def __init__(self, seed: int):
        self.w = np.random.default_rng(seed).normal(size=(12, 3))
        self.fail_after: int | None = None

    def __call__(self, x):
        if self.fail_after is not None:
            if self.fail_after <= 0:
                raise RuntimeError("the model ran out of memory")
            self.fail_after -= 1
        x = np.asarray(x, np.float32) / 255.0
        h, w = x.shape[1] // 2, x.shape[2] // 2
        q = [x[:, i:i + h, j:j + w].mean(axis=(1, 2)) for i in (0, h) for j in (0, w)]
        return np.concatenate(q, axis=1) @ self.w


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(0)
    x = (rng.random((48, 32, 32, 3)) * 255).astype(np.uint8)
    y = rng.integers(0, 3, 48)
    a, b = ColourModel(1), ColourModel(2)
    r = quick_compare({"A": a, "B": b}, x, y, n_clusters=3)
    return r, a, b


def _invoke(w, sent, name, msg):
    """What the front end's ``experimental.invoke(name, msg)`` sends; the answer."""
    before = len(sent)
    w._handle_custom_msg({"id": "p1", "kind": "anywidget-command", "name": name, "msg": msg}, [])
    answers = [m for m in sent[before:] if m.get("kind") == "anywidget-command-response"]
    assert len(answers) == 1, answers
    return answers[0]["response"]


def _watch(w, monkeypatch):
    """``(sent, values)``: the widget's custom messages, and every ``_progress`` value set,
    each with whether ``_busy`` was on and the time it was set."""
    sent, values = [], []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w.observe(lambda ch: values.append((ch["new"], w._busy, time.monotonic())), "_progress")
    return sent, values


def _check_run(values, task):
    """The values of one run: states of ``task`` counting up to their total, then None."""
    assert len(values) >= 3, values
    states = [v for v, _, _ in values[:-1]]
    assert values[-1][0] is None
    assert all(busy for _, busy, _ in values[:-1])  # all while the command runs
    assert all(s is not None and s["task"] == task for s in states), states
    total = states[0]["total"]
    assert total > 0 and all(s["total"] == total for s in states)
    done = [s["done"] for s in states]
    assert done[0] == 0 and done == sorted(done) and len(set(done)) == len(done), done
    return done, total


def test_progress_counts_the_images_of_a_real_what_if_test(run, monkeypatch):
    """Unthrottled: every tick of the test is a state, from 0 to the test's total (each model
    scores the paste images before and after the paste, and each removal image with and
    without the cluster's segments), then None; the payload gets the test."""
    r, a, b = run
    monkeypatch.setattr(widget_commands, "PROGRESS_INTERVAL_S", 0.0)
    w = ImacsWidget(r)
    sent, values = _watch(w, monkeypatch)
    try:
        c = r.clusters[0]["id"]
        assert _invoke(w, sent, "_intervene", {"cluster": c}) == {"ok": True, "cluster": c}
        done, total = _check_run(values, f"what-if test, cluster {c}")
        rec = r.interventions[c]
        assert total == len(r.models) * (2 * rec["images_pasted"] + 2 * rec["images_removed"])
        assert done[-1] == total
        assert len(done) > 2 * len(r.models)  # the removals tick per batch too
        assert w._progress is None and w._busy is False
        assert next(e for e in w._payload["clusters"] if e["id"] == c)["intervention"]
    finally:
        w.close()


def test_progress_is_throttled(run, monkeypatch):
    """With the default interval: the first state, the last and at most one per interval
    between, however many ticks the test has."""
    r, a, b = run
    assert widget_commands.PROGRESS_INTERVAL_S == 0.25
    w = ImacsWidget(r)
    sent, values = _watch(w, monkeypatch)
    try:
        c = r.clusters[1]["id"]
        t0 = time.monotonic()
        assert _invoke(w, sent, "_intervene", {"cluster": c})["ok"] is True
        elapsed = time.monotonic() - t0
        done, total = _check_run(values, f"what-if test, cluster {c}")
        assert done[-1] == total
        # the states are >= 0.25 s apart by the reporter's clock, so however loaded the machine,
        # no more than this many fit in the run (the observer's own timestamps lag each set by
        # a variable delay, so the gaps between them are not asserted)
        assert len(done) <= 2 + elapsed / 0.25, (done, elapsed)
    finally:
        w.close()


def test_progress_ends_none_when_the_test_fails_half_way(run, monkeypatch):
    """Model B breaks after its first call: the command is refused with the model's error,
    the progress had started (not at its total) and is None afterwards; the next test runs
    from 0 again."""
    r, a, b = run
    monkeypatch.setattr(widget_commands, "PROGRESS_INTERVAL_S", 0.0)
    w = ImacsWidget(r)
    sent, values = _watch(w, monkeypatch)
    try:
        c = r.clusters[2]["id"]
        b.fail_after = 1
        try:
            answer = _invoke(w, sent, "_intervene", {"cluster": c})
        finally:
            b.fail_after = None
        assert answer["ok"] is False and "out of memory" in answer["error"], answer
        done, total = _check_run(values, f"what-if test, cluster {c}")
        assert 0 < done[-1] < total
        assert w._progress is None and w._busy is False
        assert c not in r.interventions
        values.clear()
        assert _invoke(w, sent, "_intervene", {"cluster": c})["ok"] is True
        assert _check_run(values, f"what-if test, cluster {c}")[0][-1] > 0
    finally:
        w.close()


def test_progress_stays_none_for_a_refused_test(run, monkeypatch):
    """A bad cluster id is refused before any test runs: no progress state at all."""
    r, a, b = run
    w = ImacsWidget(r)
    sent, values = _watch(w, monkeypatch)
    try:
        assert _invoke(w, sent, "_intervene", {"cluster": 99})["ok"] is False
        assert [v for v, _, _ in values if v is not None] == [] and w._progress is None
    finally:
        w.close()


def test_progress_is_read_only_from_the_front_end(run, monkeypatch):
    """The front end cannot set ``_progress`` (ignored, the current value sent back)."""
    r, a, b = run
    w = ImacsWidget(r)
    resent = []
    monkeypatch.setattr(w, "send_state", lambda key=None: resent.append(key))
    try:
        w.set_state({"_progress": {"task": "x", "done": 1, "total": 2}})
        assert w._progress is None and resent == [["_progress"]]
    finally:
        w.close()
