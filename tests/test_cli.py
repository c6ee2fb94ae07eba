"""``imacs compare``: saved .keras models + images → run.imacs → imacs.load(...) (issue 4 §5)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_cnn

import imacs_widget as imacs
from imacs_widget.cli import main
from imacs_widget.io.loaders import load_keras_model

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["cat", "dog", "eel"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("cli")
    tiny_cnn(seed=1).save(d / "a.keras")
    tiny_cnn(seed=2).save(d / "b.keras")
    rng = np.random.default_rng(5)
    images = (rng.random((24, 32, 32, 3)) * 255).astype(np.uint8)
    labels = rng.integers(0, 3, 24)
    (d / "imgs").mkdir()
    with open(d / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "label"])
        for i, (im, y) in enumerate(zip(images, labels, strict=True)):
            Image.fromarray(im).save(d / "imgs" / f"img_{i:02d}.png")
            w.writerow([f"img_{i:02d}.png", NAMES[y]])
    np.savez(d / "data.npz", images=images, labels=labels)
    return d, images, labels


@pytest.mark.slow
def test_compare_folder_round_trip(saved, capsys):
    d, images, labels = saved
    out = d / "run.imacs"
    rc = main(["compare", "--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"),
               "--images", str(d / "imgs"), "--labels", str(d / "labels.csv"),
               "--target-class", "dog", "--out", str(out), "--n-clusters", "3",
               "--n-per-model", "8", "--k", "3", "--seed", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    msg = capsys.readouterr()
    assert "wrote" in msg.out and "sorted order" in msg.err  # class names from the CSV, said so
    res = imacs.load(out)
    assert res.class_names == NAMES and res.target_class == "dog"
    # it says what it found: the class, then the findings' lines, as findings_lines words them
    from imacs_widget.engine.findings import findings_lines

    lines = findings_lines(res.clusters, res.models, "dog", names=res.model_names,
                           level=res.params.get("significance_level"))
    assert "class 'dog':" in msg.out and all(f"  {line}" in msg.out for line in lines)
    assert res.model_names == {"A": "a", "B": "b"}
    assert res.params["k"] == 3 and res.params["seed"] == 1 and res.n_clusters == 3
    seg = res.segments
    assert len(seg) and set(seg["model"]) <= {"A", "B"}
    # the PNGs round-trip exactly, so the labels line up with the images given
    np.testing.assert_array_equal(seg["label"].to_numpy(), labels[seg["image_index"].to_numpy()])
    w = res.widget()  # the saved result opens in the widget, on the class and clusters run
    assert (w.target_class, w.n_clusters, w.models) == ("dog", 3, ["A", "B"])
    assert w._payload["model_names"] == {"A": "a", "B": "b"}


@pytest.mark.slow
def test_compare_npz_with_cache(saved, capsys):
    d, images, labels = saved
    out = d / "run_npz.imacs"
    args = ["compare", "--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"),
            "--images", str(d / "data.npz"), "--target-class", "eel",
            "--class-names", ",".join(NAMES), "--out", str(out), "--n-clusters", "2",
            "--sampling", "all", "--k", "2", "--grid", "2x3", "--baseline", "mean",
            "--cache-dir", str(d / "cache"), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    assert main(args) == 0, capsys.readouterr().err  # second run: every image from the cache
    assert "cache: " in capsys.readouterr().out
    res = imacs.load(out)
    assert res.params["cache_misses"] == 0 and res.params["cache_hits"] > 0
    assert res.target_class == "eel"
    # the generated options reached the engine, and the result keeps its settings
    assert imacs.Settings.from_params(res.params) == imacs.Settings(
        sampling="all", k=2, grid=(2, 3), baseline="mean", n_clusters=2)
    assert (res.segments["segment_index"] < 6).all()  # 2 x 3 cells


def test_unsafe_model_is_refused_with_a_clear_message(tmp_path, saved, capsys):
    import keras

    d = saved[0]
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    model.save(tmp_path / "lambda.keras")
    rc = main(["compare", "--model-a", str(tmp_path / "lambda.keras"), "--model-b",
               str(d / "b.keras"), "--images", str(d / "data.npz"), "--target-class", "0",
               "--out", str(tmp_path / "x.imacs"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--model-a" in err and "can't be loaded safely" in err and "--unsafe" in err
    assert not (tmp_path / "x.imacs").exists()
    # the explicit opt-in loads it (this runs the lambda's code from the file)
    loaded = load_keras_model(tmp_path / "lambda.keras", "--model-a", unsafe=True)
    assert loaded.output_shape == (None, 3)


def test_bad_inputs_name_the_option(saved, capsys):
    d = saved[0]
    rc = main(["compare", "--model-a", str(d / "missing.keras"), "--model-b", str(d / "b.keras"),
               "--images", str(d / "imgs"), "--labels", str(d / "labels.csv"),
               "--target-class", "dog", "--out", str(d / "y.imacs")])
    assert rc == 2 and "--model-a" in capsys.readouterr().err
    rc = main(["compare", "--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"),
               "--images", str(d / "imgs"), "--target-class", "dog", "--out", str(d / "y.imacs")])
    assert rc == 2 and "--labels" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"]])
def test_help_does_not_import_tensorflow(argv):
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from imacs_widget.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout
    wanted = ("--model-a", "--ranking", "--n-clusters") if argv[0] == "compare" else (
        "{demo,compare,compare-datasets}",)
    assert all(w in r.stdout for w in wanted), r.stdout


@pytest.mark.slow
def test_compare_torchscript_onnx_and_hf_folder(saved, tmp_path, capsys):
    """The CLI takes each saved model kind: TorchScript .pt, torch.export .pt2, .onnx and a
    Hugging Face checkpoint folder."""
    import torch
    from test_model_kinds import torch_cnn
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    d, images, labels = saved
    m = torch_cnn(seed=4).eval()
    torch.jit.trace(m, torch.zeros(1, 3, 32, 32)).save(str(tmp_path / "a.pt"))
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.export.save(torch.export.export(m, (torch.zeros(2, 3, 32, 32),),
                                          dynamic_shapes={"input": {0: batch}}),
                      str(tmp_path / "a.pt2"))
    torch.onnx.export(m, torch.zeros(1, 3, 32, 32), str(tmp_path / "a.onnx"), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "n"}})
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64, num_labels=3)
    ViTForImageClassification(cfg).save_pretrained(tmp_path / "vit")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "vit")
    runs = [("a.pt", "a.onnx"), ("a.pt2", "vit")]
    for a, b in runs:
        out = tmp_path / f"{a}-{b}.imacs"
        rc = main(["compare", "--model-a", str(tmp_path / a), "--model-b", str(tmp_path / b),
                   "--images", str(d / "data.npz"), "--target-class", "0", "--out", str(out),
                   "--n-clusters", "3", "--k", "3", "--n-per-model", "8", "--quiet",
                   "--embedder", "efficientnet_lite0"])
        assert rc == 0, capsys.readouterr().err
        res = imacs.load(out)
        assert res.model_names == {"A": Path(a).stem, "B": Path(b).stem}
        assert len(res.segments) > 0
    # the same TorchScript model through the CLI and in Python give the same scores
    from imacs_widget.io.loaders import load_model
    from imacs_widget.models import ModelAdapter

    x = images[:4].astype(np.float32)
    np.testing.assert_allclose(ModelAdapter(load_model(tmp_path / "a.pt", "--model-a")).raw(x),
                               ModelAdapter(m).raw(x), atol=1e-5)
    with pytest.raises(imacs.ImacsInputError, match="--model-a.*unknown model file type"):
        load_model(d / "labels.csv", "--model-a")


@pytest.mark.slow
def test_compare_three_models(saved, tmp_path, capsys):
    """--model NAME=PATH, repeated: three models, each sampled and shown under its name."""
    d, images, labels = saved
    tiny_cnn(seed=3).save(tmp_path / "c.keras")
    out = tmp_path / "three.imacs"
    rc = main(["compare", "--model", f"v1={d / 'a.keras'}", "--model", f"v2={d / 'b.keras'}",
               "--model", f"v3={tmp_path / 'c.keras'}", "--preprocess", "v3=none",
               "--images", str(d / "data.npz"), "--target-class", "1", "--out", str(out),
               "--n-clusters", "3", "--k", "3", "--n-per-model", "8", "--quiet",
               "--segment-map", "pca", "--report", str(tmp_path / "three.html"),
               "--sanity-check", "--class-pictures"])
    assert rc == 0, capsys.readouterr().err
    res = imacs.load(out)
    assert res.model_names == {"A": "v1", "B": "v2", "C": "v3"}
    # the trust checks ran, were saved and reached the report
    assert set(res.sanity_verdicts) == {"A", "B", "C"}
    assert {m: p.shape for m, p in res.class_picture_images.items()} == {m: (32, 32, 3) for m in "ABC"}
    assert set(res.segments["model"]) == {"A", "B", "C"}
    assert all(c["consensus"]["of"] == 3 for c in res.clusters)
    assert res.map_method == "pca" and res.segments[["map_x", "map_y"]].notna().all().all()
    html = (tmp_path / "three.html").read_text()
    assert '"map"' in html and "v3" in html
    assert '"class_pictures"' in html and '"best_log_odds"' in html


@pytest.mark.slow
def test_compare_datasets_command(saved, tmp_path, capsys):
    """imacs compare-datasets: one model, an .npz against an ImageFolder tree."""
    from PIL import Image

    d, images, labels = saved
    for i, (im, y) in enumerate(zip(images[:12], labels[:12], strict=True)):
        (tmp_path / "tree" / NAMES[y]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - im).save(tmp_path / "tree" / NAMES[y] / f"{i}.png")
    out = tmp_path / "ds.imacs"
    rc = main(["compare-datasets", "--model", str(d / "a.keras"), "--data-a", str(d / "data.npz"),
               "--data-b", str(tmp_path / "tree"), "--class-names", ",".join(NAMES),
               "--target-class", "dog", "--out", str(out), "--n-clusters", "3", "--k", "3",
               "--n-per-model", "8", "--quiet", "--name-b", "inverted"])
    assert rc == 0, capsys.readouterr().err
    res = imacs.load(out)
    assert res.model_names == {"A": "data", "B": "inverted"}
    seg = res.segments
    assert (seg[seg["model"] == "A"]["image_index"] < 24).all()
    b = seg[seg["model"] == "B"]
    assert len(b) and b["source"].str.contains("/tree/").all()
    assert res.params["datasets"] == {"A": 24, "B": 12}


def test_model_options_errors(saved, capsys):
    d, _, _ = saved
    base = ["compare", "--images", str(d / "data.npz"), "--target-class", "1", "--out",
            str(d / "never.imacs"), "--quiet"]
    cases = [
        (["--model", f"v1={d / 'a.keras'}"], "--model.*2 to 8"),
        (["--model", f"v1={d / 'a.keras'}", "--model", f"v1={d / 'b.keras'}"], "names 'v1' twice"),
        (["--model", "v1", "--model", "v2=x"], "NAME=VALUE"),
        (["--model-a", str(d / "a.keras"), "--model", f"v2={d / 'b.keras'}"], "--model.*either"),
        (["--model", f"v1={d / 'a.keras'}", "--model", f"v2={d / 'b.keras'}", "--name-a", "x"],
         "--name-a.*--preprocess NAME=KIND"),
        (["--model", f"v1={d / 'a.keras'}", "--model", f"v2={d / 'b.keras'}", "--preprocess",
          "v1=weird"], "--preprocess.*must be one of"),
        (["--model-a", str(d / "a.keras")], "--model-b.*is required"),
        (["--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"), "--preprocess",
          "a=none"], "--preprocess.*--preprocess-a"),
    ]
    import re

    for extra, pattern in cases:
        rc = main(base + extra)
        err = capsys.readouterr().err
        assert rc == 2 and re.search(pattern, err), (extra, err)
    assert not (d / "never.imacs").exists()


def test_compare_imagefolder_tree_without_csv(saved, tmp_path, capsys):
    from PIL import Image

    d, images, labels = saved
    for c in NAMES:
        (tmp_path / "tree" / c).mkdir(parents=True)
    for i, (im, y) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(im).save(tmp_path / "tree" / NAMES[y] / f"{i:02d}.png")
    out = tmp_path / "tree.imacs"
    rc = main(["compare", "--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"),
               "--images", str(tmp_path / "tree"), "--target-class", "dog", "--out", str(out),
               "--n-clusters", "3", "--n-per-model", "8", "--k", "3", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    res = imacs.load(out)
    assert res.class_names == NAMES and res.target_class == "dog"
    assert all(Path(p).parent.parent == tmp_path / "tree" for p in res.segments["source"])


def _help(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone


@pytest.mark.parametrize("command", ["compare", "compare-datasets"])
def test_engine_options_are_the_settings_fields(command, capsys):
    """One option per Settings field, with its default and the registries' current choices."""
    from imacs_widget.engine.embedding.embedders import EMBEDDERS
    from imacs_widget.engine.ranking import RANKERS
    from imacs_widget.engine.settings import SETTING_NAMES, Settings

    text = _help(command, capsys)
    for name in SETTING_NAMES:
        assert f"--{name.replace('_', '-')} " in text, name
    assert "--ranking {" + ",".join(RANKERS) + "}" in text
    assert "--embedder {" + ",".join(EMBEDDERS) + "}" in text
    assert f"(default: {Settings().n_per_model})" in text and "(default: 4x4)" in text


def test_generated_options_parse_to_settings(saved, capsys):
    from imacs_widget.cli import build_parser
    from imacs_widget.cli.commands import _settings

    d = saved[0]
    base = ["compare", "--model-a", str(d / "a.keras"), "--model-b", str(d / "b.keras"),
            "--images", str(d / "data.npz"), "--target-class", "1", "--out", str(d / "z.imacs")]
    args = build_parser().parse_args(base + ["--grid", "2x3", "--ranking", "gradcam", "--k",
                                             "4", "--baseline", "1,2,3", "--blur-sigma", "2.5"])
    assert _settings(args) == imacs.Settings(grid=(2, 3), ranking="gradcam", k=4,
                                             baseline=(1, 2, 3), blur_sigma=2.5)
    assert _settings(build_parser().parse_args(base)) == imacs.Settings()  # defaults: once
    # an invalid value names its option, before any model is loaded or image read
    for extra, pattern in [(["--k", "99"], "--k: must be an integer in 1..16"),
                           (["--sampling", "outcome"], "--outcome: must be one of"),
                           (["--n-clusters", "0"], "--n-clusters: must be a positive integer")]:
        assert main(base + extra) == 2
        assert pattern in capsys.readouterr().err
    for extra in (["--ranking", "shap"], ["--grid", "4by4"], ["--baseline", "1,2"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(base + extra)
        assert extra[0] in capsys.readouterr().err
    assert not (d / "z.imacs").exists()


def test_warnings_print_as_imacs_warnings_without_a_source_line(monkeypatch, capsys):
    """Under the console script the first frame outside the package is the generated launcher
    (`sys.exit(main())`): the CLI prints a warning as one line naming no file or source."""
    import warnings

    from imacs_widget import cli
    from imacs_widget.errors import warn

    def command(args):
        warn("sampling for class 'dog': model A: only 3 TP images (asked for 8)")
        return 0

    monkeypatch.setitem(cli.COMMANDS, "demo", command)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert cli.main(["demo"]) == 0
    err = capsys.readouterr().err
    assert err == "imacs: warning: sampling for class 'dog': model A: only 3 TP images " \
                  "(asked for 8)\n"
