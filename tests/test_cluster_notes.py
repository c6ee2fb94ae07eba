"""A user's cluster names and notes (stored under the cluster keys: shown, saved, following
re-clustering), the class-name columns of ``result.segments`` and the ``significance_level``
setting."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from synthetic_result import make_result

import imacs_widget as imacs
from imacs_widget.engine.cluster_keys import cluster_key
from imacs_widget.errors import ImacsInputError


@pytest.fixture()
def result():
    return make_result(300, 6, seed=1, extra_classes=(0,))


def by_id(res) -> dict:
    return {c["id"]: c for c in res.clusters}


def test_rename_and_annotate_show_in_the_summaries(result):
    for c in result.clusters:  # every summary has the fields, empty by default
        assert c["name"] is None and c["note"] == ""
        assert c["suggested_labels"] == [] and c["suggested_name"] is None  # no Lite0 here
    assert result.rename_cluster(2, "  sky  ") is result
    assert result.annotate_cluster(np.int64(2), "blue, above the horizon") is result
    result.annotate_cluster(4, "check this one")
    got = by_id(result)
    assert (got[2]["name"], got[2]["note"]) == ("sky", "blue, above the horizon")
    assert (got[4]["name"], got[4]["note"]) == (None, "check this one")
    assert all(got[c]["name"] is None and got[c]["note"] == "" for c in (0, 1, 3, 5))
    key = cluster_key(result.segments["cluster"].to_numpy(), 2)
    assert got[2]["key"] == key
    assert result.params["cluster_notes"][result.target_class][key] == {
        "name": "sky", "note": "blue, above the horizon"}
    json.dumps(result.params)
    # clearing: None or "" (a cluster with neither a name nor a note leaves no record)
    result.rename_cluster(2, "").annotate_cluster(2, None).annotate_cluster(4, "")
    assert "cluster_notes" not in result.params
    assert all(c["name"] is None and c["note"] == "" for c in result.clusters)


@pytest.mark.parametrize("call, arg", [
    (lambda r: r.rename_cluster(6, "x"), "cluster"),
    (lambda r: r.rename_cluster(-1, "x"), "cluster"),
    (lambda r: r.rename_cluster("2", "x"), "cluster"),
    (lambda r: r.rename_cluster(True, "x"), "cluster"),
    (lambda r: r.rename_cluster(1.0, "x"), "cluster"),
    (lambda r: r.rename_cluster(1, 5), "name"),
    (lambda r: r.rename_cluster(1, ["sky"]), "name"),
    (lambda r: r.rename_cluster(1, "x" * 201), "name"),
    (lambda r: r.annotate_cluster(9, "x"), "cluster"),
    (lambda r: r.annotate_cluster(1, 3.5), "note"),
    (lambda r: r.annotate_cluster(1, "x" * 5001), "note"),
])
def test_errors_name_the_argument(result, call, arg):
    with pytest.raises(ImacsInputError) as err:
        call(result)
    assert err.value.argument == arg
    assert "cluster_notes" not in result.params  # nothing stored by a refused call


def test_names_and_notes_are_saved_and_loaded(result, tmp_path):
    result.rename_cluster(1, "watermark").annotate_cluster(1, "B's shortcut")
    other = result.classes_of_interest[1]
    result.select_class(other).rename_cluster(0, "grass")
    result.select_class(result.classes_of_interest[0])
    result.save(tmp_path / "r.imacs")
    back = imacs.load(tmp_path / "r.imacs")
    assert back.params["cluster_notes"] == result.params["cluster_notes"]
    assert (by_id(back)[1]["name"], by_id(back)[1]["note"]) == ("watermark", "B's shortcut")
    assert by_id(back.select_class(other))[0]["name"] == "grass"
    # a loaded result is renamed again and saved in place (its own folder: tables rewritten)
    back.rename_cluster(3, "sand")
    back.save(tmp_path / "r.imacs")
    assert by_id(imacs.load(tmp_path / "r.imacs").select_class(other))[3]["name"] == "sand"


def test_names_follow_reclustering(result):
    n, seed = result.n_clusters, result.seed
    result.recluster(n)  # k-means' own numbering, seeded
    result.rename_cluster(3, "watermark")
    key = by_id(result)[3]["key"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result.recluster(n + 2)
    assert all(c["name"] is None for c in result.clusters)  # another k: hidden, not lost
    assert key in result.params["cluster_notes"][result.target_class]
    result.recluster(n, seed=seed)  # the same k and seed: the same members, the name is back
    named = [c for c in result.clusters if c["name"] == "watermark"]
    assert len(named) == 1 and named[0]["key"] == key


def test_the_findings_use_the_users_name(result):
    found = result.findings()
    assert len(found)
    cid = int(found["cluster"].iloc[0])
    result.rename_cluster(cid, "watermark")
    sentence = result.findings()["sentence"].iloc[0]
    assert f'cluster {cid} "watermark" (' in sentence
    # a suggested name is marked as a suggestion, and the user's name wins over it
    result.rename_cluster(cid, None)
    for c in result._active.summaries:
        c["suggested_name"] = "honeycomb 41 %, chain mail 22 %"
    sentence = result.findings()["sentence"].iloc[0]
    assert f"cluster {cid} (suggested name: honeycomb 41 %, chain mail 22 %; " in sentence


def test_damaged_notes_in_a_file_are_named(result, tmp_path):
    result.rename_cluster(1, "sky")
    path = tmp_path / "r.imacs"
    result.save(path)
    meta = json.loads((path / "meta.json").read_text())
    for bad in ({"nope": {}}, {result.target_class: {"k": {"name": 3, "note": ""}}}, [1],
                {result.target_class: {"k": {"name": "x" * 201, "note": ""}}},
                {result.target_class: {"k": {"name": None, "note": "x" * 5001}}}):
        meta["params"]["cluster_notes"] = bad
        (path / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(ImacsInputError, match="meta.json.*cluster_notes"):
            imacs.load(path)
    meta["params"]["cluster_notes"] = {}
    meta["params"]["significance_level"] = 2
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ImacsInputError, match="meta.json.*significance_level"):
        imacs.load(path)


# -- class names in the segments table -----------------------------------------------------------

def test_segments_have_name_columns(result, tmp_path):
    seg = result.segments
    cols = list(seg.columns)
    for col in ("label", "pred_a", "pred_b"):
        assert cols.index(f"{col}_name") == cols.index(col) + 1
        names = np.asarray(result.class_names, dtype=object)[seg[col].to_numpy()]
        assert (seg[f"{col}_name"].to_numpy() == names).all()
    result.save(tmp_path / "r.imacs")
    meta = json.loads((tmp_path / "r.imacs" / "meta.json").read_text())
    assert not any(c.endswith("_name") for c in meta["classes"][0]["columns"])  # derived
    back = imacs.load(tmp_path / "r.imacs")
    assert list(back.segments.columns) == cols
    assert (back.segments["pred_b_name"].to_numpy() == seg["pred_b_name"].to_numpy()).all()


# -- the significance level ----------------------------------------------------------------------

def test_significance_level_is_a_setting_read_from_params(result, tmp_path):
    assert imacs.Settings().significance_level == 0.05
    assert imacs.Settings(significance_level=0.01).params()["significance_level"] == 0.01
    qs = [c["q_value"] for c in result.clusters if c["q_value"] is not None]
    assert all(c["significant"] == (c["q_value"] is not None and c["q_value"] < 0.05)
               for c in result.clusters)  # no level stored: the default
    level = float(np.median(qs)) + 1e-12  # about half the clusters fall below it
    strict = make_result(300, 6, seed=1, extra_classes=(0,))
    strict.params["significance_level"] = level
    strict._configure_classes()
    assert [c["significant"] for c in strict.clusters] == [
        c["q_value"] is not None and c["q_value"] < level for c in strict.clusters]
    assert sum(c["significant"] for c in strict.clusters) < sum(
        c["significant"] for c in result.clusters) or level > 0.05
    strict.save(tmp_path / "s.imacs")
    back = imacs.load(tmp_path / "s.imacs")
    assert [c["significant"] for c in back.clusters] == [c["significant"] for c in strict.clusters]
    back.recluster(4)  # the level holds after re-clustering
    assert all(c["significant"] == (c["q_value"] is not None and c["q_value"] < level)
               for c in back.clusters)
    assert len(back.findings()) == sum(c["significant"] for c in back.clusters)


def test_an_empty_cluster_cannot_be_named(result):
    """Every empty cluster has the key of no rows: a name given to one would show on all."""
    seg = result.segments
    result.per_class[result.target_class].segments["cluster"] = np.where(
        seg["cluster"] == 2, 3, seg["cluster"])  # cluster 2 emptied
    with pytest.raises(ImacsInputError, match="cluster 2 is empty") as err:
        result.rename_cluster(2, "nothing")
    assert err.value.argument == "cluster" and "cluster_notes" not in result.params
