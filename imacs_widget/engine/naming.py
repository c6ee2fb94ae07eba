"""Names for clusters: suggested ones (offline, or from a user's text-image model), the user's
own names and notes, and the class-name columns of a segments table.

* **Suggested names, offline.** The embedder ``"efficientnet_lite0"`` stores each segment's
  1280-d pooled features, the input of EfficientNet-Lite0's ImageNet classifier head
  (:mod:`~imacs_widget.models.lite0.head`). :func:`imagenet_top_classes` applies the head to
  the stored embeddings (``embeddings @ W + b``, in chunks: no model call, a few seconds for
  100,000 segments) and keeps each segment's most likely ImageNet class;
  :func:`label_shares` counts them per cluster: the (at most) three most frequent labels with
  their share of the cluster's segments, e.g. ``[["honeycomb", 0.41], ["chain mail", 0.22]]``,
  shown as ``"honeycomb 41 %, chain mail 22 %"`` (:func:`suggestion_text`). It is a
  *suggestion*: what an ImageNet classifier sees in the crops, not what the compared models
  rely on. Other embedders (InceptionV3, a callable) have no head here: no suggestion.
* **A user's text-image model** (e.g. CLIP), passed as a pair of callables ``text_model =
  (image_fn, text_fn)``: ``image_fn(crops)`` takes ``uint8 [n, h, w, 3]`` RGB crops (the
  cluster's thumbnails) and returns ``[n, d]`` features; ``text_fn(texts)`` takes a list of
  ``m`` strings and returns ``[m, d]`` features in the same space. Similarities are cosines.
  :func:`zero_shot_shares` labels each crop with the nearest word of a vocabulary (zero-shot)
  and counts the labels like :func:`label_shares`; :func:`text_similarity` scores crops
  against one query.
* **The user's names and notes** are stored under the cluster's key
  (:mod:`~imacs_widget.engine.cluster_keys`), so they apply while the clustering has a cluster
  with the same members (another ``n_clusters`` hides them; the same ``n_clusters`` and seed
  brings them back). :func:`check_name` / :func:`check_note` validate them,
  :func:`check_notes` / :func:`check_suggestions` the records read from a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ImacsInputError

__all__ = ["CHUNK", "IMAGENET_SOURCE", "MAX_NAME", "MAX_NOTE", "NAMED_LABELS", "NAMED_SHARE",
           "SUGGESTING_EMBEDDERS", "TOP_LABELS", "add_name_columns", "can_suggest", "check_name",
           "check_note", "check_notes", "check_suggestions", "check_text_model",
           "imagenet_top_classes", "label_shares", "representative_rows", "suggestion_text",
           "text_similarity", "zero_shot_shares"]

SUGGESTING_EMBEDDERS = ("efficientnet_lite0", "efficientnet_lite0_torch",
                        "efficientnet_lite0_keras")
"""Embedders whose stored features feed EfficientNet-Lite0's ImageNet head (``params["embedder"]``
names the one that ran)."""
IMAGENET_SOURCE = "EfficientNet-Lite0 ImageNet head"
"""What suggested the offline names (a summary's ``suggested_by``)."""
TOP_LABELS = 3
"""Labels kept per cluster (``suggested_labels``)."""
NAMED_LABELS = 2
"""Labels a suggested name shows at most (:func:`suggestion_text`)."""
NAMED_SHARE = 0.1
"""Share of the crops a label after the first needs to be shown in the name."""
CHUNK = 8192
"""Embedding rows per matrix product of :func:`imagenet_top_classes`."""
MAX_NAME = 200
"""Longest user name of a cluster, in characters."""
MAX_NOTE = 5000
"""Longest user note on a cluster, in characters."""


def can_suggest(embedder, dim: int | None = None) -> bool:
    """Whether a result's embeddings give offline suggested names.

    Parameters
    ----------
    embedder : str or None
        ``params["embedder"]``, the embedder that ran.
    dim : int, optional
        The embeddings' width (must be 1280 when given).

    Returns
    -------
    bool
    """
    from ..models.lite0.weights import EMBEDDING_DIM

    return (isinstance(embedder, str) and embedder in SUGGESTING_EMBEDDERS
            and (dim is None or int(dim) == EMBEDDING_DIM))


def imagenet_top_classes(embeddings, chunk: int = CHUNK) -> np.ndarray:
    """Each segment's most likely ImageNet class from its stored Lite0 features.

    Parameters
    ----------
    embeddings : array_like or StoredArray
        ``[n, 1280]`` pooled features of ``"efficientnet_lite0"`` (float16 when stored), read
        ``chunk`` rows at a time.
    chunk : int
        Rows per matrix product.

    Returns
    -------
    numpy.ndarray
        ``int16 [n]`` class index (0..999), ``-1`` for a row that is not finite.

    Raises
    ------
    ImportError, FileNotFoundError
        The offline weights are not installed.
    """
    from ..models.lite0.head import imagenet_head

    w, b = imagenet_head()
    n = len(embeddings)
    out = np.full(n, -1, np.int16)
    for s in range(0, n, int(chunk)):
        x = np.asarray(embeddings[s:s + int(chunk)], np.float32)
        logits = x @ w + b
        ok = np.isfinite(logits).all(1)
        out[s:s + len(x)][ok] = np.argmax(logits[ok], 1)
    return out


def label_shares(classes: np.ndarray, cluster: np.ndarray, n_clusters: int,
                 names: Sequence[str], top: int = TOP_LABELS) -> list[list]:
    """The most frequent labels of each cluster with their share of its segments.

    Parameters
    ----------
    classes : numpy.ndarray
        ``int [n]`` a label index per segment (``-1``: none; counts in the cluster's size).
    cluster : numpy.ndarray
        ``int [n]`` each segment's cluster.
    n_clusters : int
        Clusters ``0..n_clusters - 1``.
    names : sequence of str
        Label index -> name.
    top : int
        Labels kept per cluster.

    Returns
    -------
    list of list
        Per cluster (id order) ``[[name, share], ...]``, most frequent first (ties: the name
        of the lower index first), at most ``top``; indices of the same name count together;
        shares in 0..1 of the cluster's segments; ``[]`` for an empty cluster.
    """
    classes = np.asarray(classes, np.int64)
    cluster = np.asarray(cluster, np.int64)
    code, names = pd.factorize(pd.Series([str(n) for n in names], dtype=object))
    k = int(n_clusters)
    keep = (cluster >= 0) & (cluster < k)
    size = np.bincount(cluster[keep], minlength=k)
    ok = keep & (classes >= 0) & (classes < len(code))
    n_names = len(names)  # two indices of one name (ImageNet's two "crane"s) count as one
    counts = np.bincount(cluster[ok] * n_names + code[classes[ok]],
                         minlength=k * n_names).reshape(k, n_names)
    out = []
    for c in range(k):
        if not size[c]:
            out.append([])
            continue
        idx = np.argsort(-counts[c], kind="stable")[:int(top)]
        out.append([[str(names[i]), float(counts[c, i] / size[c])] for i in idx
                    if counts[c, i]])
    return out


def suggestion_text(labels) -> str | None:
    """A suggestion as a short name: the most frequent label, then the second when it holds at
    least :data:`NAMED_SHARE` of the crops, with their shares —
    ``[["honeycomb", 0.41], ["chain mail", 0.22], ["cup", 0.05]]`` ->
    ``"honeycomb 41 %, chain mail 22 %"`` (every label stays in ``suggested_labels``).

    Parameters
    ----------
    labels : list of [str, float]
        Most frequent first.

    Returns
    -------
    str or None
        ``None`` for no label.
    """
    if not labels:
        return None
    named = [labels[0]] + [lab for lab in labels[1:NAMED_LABELS] if lab[1] >= NAMED_SHARE]
    return ", ".join(f"{name} {round(100 * share)} %" for name, share in named)


# -- the user's names and notes ---------------------------------------------------------------

def check_name(name) -> str | None:
    """A cluster's user name: a non-blank string (stripped), or ``None`` / ``""`` (no name).

    Raises
    ------
    ImacsInputError
        Naming ``name``: not a string, or longer than :data:`MAX_NAME` characters.
    """
    if name is None:
        return None
    if not isinstance(name, str):
        raise ImacsInputError("name", f"must be a str (or None to clear it), got "
                              f"{type(name).__name__}")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ImacsInputError("name", f"is {len(name)} characters long; at most {MAX_NAME}")
    return name or None


def check_note(note) -> str:
    """A cluster's note: a string (``None`` clears it to ``""``).

    Raises
    ------
    ImacsInputError
        Naming ``note``: not a string, or longer than :data:`MAX_NOTE` characters.
    """
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ImacsInputError("note", f"must be a str (or None to clear it), got "
                              f"{type(note).__name__}")
    if len(note) > MAX_NOTE:
        raise ImacsInputError("note", f"is {len(note)} characters long; at most {MAX_NOTE}")
    return note


def check_notes(value, classes: Sequence[str]) -> dict:
    """``params["cluster_notes"]`` as read from a file, checked:
    ``{class: {cluster key: {"name": str or None, "note": str}}}``.

    Raises
    ------
    ImacsInputError
        Naming ``params.cluster_notes`` and what does not fit.
    """
    arg = "params.cluster_notes"
    if not isinstance(value, Mapping):
        raise ImacsInputError(arg, f"must be a mapping, got {type(value).__name__}")
    for cls, notes in value.items():
        if cls not in classes or not isinstance(notes, Mapping):
            raise ImacsInputError(arg, f"has {cls!r}, not a class of interest with a mapping")
        for key, rec in notes.items():
            if (not isinstance(key, str) or not isinstance(rec, Mapping)
                    or not isinstance(rec.get("note", ""), str)
                    or not isinstance(rec.get("name"), str | None)
                    or len(rec.get("name") or "") > MAX_NAME
                    or len(rec.get("note", "")) > MAX_NOTE):
                raise ImacsInputError(arg, f"[{cls!r}][{key!r}] must be {{'name': str or None "
                                      f"(at most {MAX_NAME} characters), 'note': str (at most "
                                      f"{MAX_NOTE})}}, got {rec!r:.80}")
    return {str(c): {str(k): {"name": r.get("name"), "note": r.get("note", "")}
                     for k, r in n.items()} for c, n in value.items()}


def check_suggestions(value, classes: Sequence[str]) -> dict:
    """``params["suggested_names"]`` as read from a file, checked:
    ``{class: {cluster key: {"labels": [[str, share], ...], "by": str}}}``.

    Raises
    ------
    ImacsInputError
        Naming ``params.suggested_names`` and what does not fit.
    """
    arg = "params.suggested_names"
    if not isinstance(value, Mapping):
        raise ImacsInputError(arg, f"must be a mapping, got {type(value).__name__}")
    out = {}
    for cls, recs in value.items():
        if cls not in classes or not isinstance(recs, Mapping):
            raise ImacsInputError(arg, f"has {cls!r}, not a class of interest with a mapping")
        out[str(cls)] = {}
        for key, rec in recs.items():
            labels = rec.get("labels") if isinstance(rec, Mapping) else None
            ok = (isinstance(key, str) and isinstance(rec, Mapping)
                  and isinstance(rec.get("by"), str) and isinstance(labels, list)
                  and all(isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], str)
                          and isinstance(p[1], int | float) and 0 <= p[1] <= 1
                          for p in labels))
            if not ok:
                raise ImacsInputError(arg, f"[{cls!r}][{key!r}] must be {{'labels': [[str, "
                                      f"share], ...], 'by': str}}, got {rec!r:.80}")
            out[str(cls)][str(key)] = {"labels": [[str(a), float(s)] for a, s in labels],
                                       "by": rec["by"]}
    return out


# -- a user's text-image model ----------------------------------------------------------------

def check_text_model(text_model) -> tuple[Callable, Callable]:
    """``(image_fn, text_fn)``, checked to be two callables.

    Raises
    ------
    ImacsInputError
        Naming ``text_model``.
    """
    if (not isinstance(text_model, tuple | list) or len(text_model) != 2
            or not all(callable(f) for f in text_model)):
        raise ImacsInputError("text_model", "must be a pair of callables (image_fn, text_fn): "
                              "image_fn(uint8 crops [n, h, w, 3]) -> [n, d], "
                              "text_fn(list of m str) -> [m, d]; got "
                              f"{type(text_model).__name__}")
    return text_model[0], text_model[1]


def text_model_name(text_model) -> str:
    """What a text-image model is called in ``suggested_by``: its image function's qualified
    name (or an object's ``name`` attribute)."""
    from ..models.contract import qualified_name

    image_fn = text_model[0]
    return str(getattr(image_fn, "name", None) or qualified_name(image_fn))


def _unit(x, what: str, n: int, d: int | None = None) -> np.ndarray:
    """Rows of ``x`` scaled to length 1, after checking the shape a callable returned."""
    try:
        a = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise ImacsInputError("text_model", f"{what} returned {type(x).__name__}, not an "
                              "array of numbers") from None
    if a.ndim != 2 or a.shape[0] != n or (d is not None and a.shape[1] != d):
        want = f"[{n}, {d if d is not None else 'd'}]"
        raise ImacsInputError("text_model", f"{what} returned shape {a.shape}; expected {want}")
    if not np.isfinite(a).all():
        raise ImacsInputError("text_model", f"{what} returned NaN or infinite features")
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norm > 0, norm, 1.0)


def embed_texts(text_fn: Callable, texts: Sequence[str]) -> np.ndarray:
    """Unit-length ``[m, d]`` text features of ``texts`` (``text_fn`` called once)."""
    texts = [str(t) for t in texts]
    return _unit(text_fn(texts), "text_fn", len(texts))


def embed_crops(image_fn: Callable, crops: np.ndarray, d: int, batch_size: int = 64
                ) -> np.ndarray:
    """Unit-length ``[n, d]`` image features of ``uint8 [n, h, w, 3]`` crops, in batches."""
    parts = [_unit(image_fn(np.ascontiguousarray(crops[s:s + batch_size], np.uint8)),
                   "image_fn", len(crops[s:s + batch_size]), d)
             for s in range(0, len(crops), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, d))


def representative_rows(segments: pd.DataFrame, n_clusters: int, n_crops: int) -> list:
    """Per cluster the rows (positions in ``segments``) of its ``n_crops`` segments closest to
    its centre, the cluster's most representative crops: those of the what-if test
    (:func:`~imacs_widget.engine.intervention.representative_rows`; a segment that several
    models sampled counts once), in row order.

    Returns
    -------
    list of numpy.ndarray
        One sorted ``int64`` array per cluster (empty for an empty cluster).
    """
    from .intervention import representative_rows as closest

    held = set(np.unique(segments["cluster"].to_numpy()).tolist())
    return [np.sort(closest(segments, c, n_crops)) if c in held else np.zeros(0, np.int64)
            for c in range(int(n_clusters))]


def zero_shot_shares(crop_features: list, vocabulary: Sequence[str], text_features: np.ndarray,
                     top: int = TOP_LABELS) -> list[list]:
    """Per cluster, the vocabulary words its crops are nearest to most often, with their share.

    Parameters
    ----------
    crop_features : list of numpy.ndarray
        Per cluster, unit-length ``[n_c, d]`` features of its crops.
    vocabulary : sequence of str
        The words, in ``text_features`` order.
    text_features : numpy.ndarray
        Unit-length ``[m, d]`` features of the words.
    top : int
        Labels kept per cluster.

    Returns
    -------
    list of list
        Per cluster ``[[word, share], ...]`` (share of its crops that are nearest to the word;
        most frequent first, at most ``top``; ``[]`` for a cluster without crops).
    """
    classes, cluster = [], []
    for c, f in enumerate(crop_features):
        if len(f):
            classes.append(np.argmax(f @ text_features.T, 1))
            cluster.append(np.full(len(f), c))
    if not classes:
        return [[] for _ in crop_features]
    return label_shares(np.concatenate(classes), np.concatenate(cluster), len(crop_features),
                        list(vocabulary), top)


def text_similarity(crop_features: list, query_features: np.ndarray) -> list:
    """Per cluster the mean cosine similarity of its crops to one query (``None`` without
    crops).

    Parameters
    ----------
    crop_features : list of numpy.ndarray
        Per cluster, unit-length ``[n_c, d]`` crop features.
    query_features : numpy.ndarray
        Unit-length ``[d]`` (or ``[1, d]``) features of the query.

    Returns
    -------
    list of float or None
    """
    q = np.asarray(query_features, np.float64).reshape(-1)
    return [float(np.mean(f @ q)) if len(f) else None for f in crop_features]


# -- class names in the segments table ---------------------------------------------------------

def name_columns(segments: pd.DataFrame) -> list[tuple[str, str]]:
    """``(index column, name column)`` pairs of a segments table: ``label`` -> ``label_name``,
    ``pred_<model>`` -> ``pred_<model>_name``."""
    return [(col, f"{col}_name") for col in segments.columns
            if col == "label" or (col.startswith("pred_") and len(col) == 6)]


def add_name_columns(segments: pd.DataFrame, class_names: Sequence[str]) -> None:
    """Add (or refresh) the class-name column next to each class-index column, in place.

    ``label_name`` after ``label`` and ``pred_<model>_name`` after each ``pred_<model>``: the
    class name of the index, ``None`` for an index outside ``class_names`` (``-1``: no label).

    Parameters
    ----------
    segments : pandas.DataFrame
        A segments table (changed in place).
    class_names : sequence of str
        Class index -> name.
    """
    lookup = np.asarray([str(c) for c in class_names] + [None], dtype=object)
    for col, name in name_columns(segments):
        idx = pd.to_numeric(segments[col], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(idx) & (idx >= 0) & (idx < len(class_names))
        vals = lookup[np.where(ok, np.nan_to_num(idx), len(class_names)).astype(np.int64)]
        if name in segments:
            segments[name] = vals
        else:
            segments.insert(segments.columns.get_loc(col) + 1, name, vals)
