"""One unit of the engine's per-image work, the same in this process and on a Ray worker.

The pipeline cuts the sampled images of a class into :class:`ChunkTask` s (a few dozen images,
each with the models that sampled it). A :class:`Worker` holds what the work needs (every
model's adapter, the embedder, the run's settings, the attribution cache) and turns a task plus
its pixels into a :class:`ChunkOutput`: for every model that sampled an image, its ranked segments
and their Shapley values, then for every distinct segment its embedding, thumbnail and mask, and
for every image its preview. The driver appends outputs to the result's store in task order, so
nothing per segment is held for the whole run, and a local run and a Ray run (same tasks, same
order) give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.cache import AttributionCache
from .embedding.segments import embed_segments
from .faithfulness import CURVE_COLUMNS, MAX_STORED_K, game_rows, image_faithfulness
from .masking import baseline_images
from .segmentation import segment_bboxes, segment_images
from .settings import RunSettings
from .shapley import known_coalitions, segment_shapley
from .thumbnails import segment_thumbnails, source_previews

COLUMNS = ("model", "image_index", "segment_index", "rank", "bbox", "outcome", "attribution",
           *CURVE_COLUMNS)
"""Per-segment columns a worker produces (the driver adds source, label, predictions, clusters)."""


@dataclass
class ChunkTask:
    """Images of one class's sample, attributed together.

    Attributes
    ----------
    indices : numpy.ndarray
        ``int64 [n]`` distinct image indices (in the user's data), ascending.
    target : int
        The class of interest.
    members : dict
        ``{model: bool [n]}``: which of the images each model sampled.
    outcomes : dict
        ``{model: str [n_m]}`` outcome (TP/TN/FP/FN) of each sampled image, in ``indices`` order.
    scores, log_odds : dict
        ``{model: float [n_m, C]}`` the model's scores / per-class log-odds on its images.
    returns : dict
        ``{model: "probabilities" | "logits"}`` what each model outputs, settled by the driver
        (so a worker whose model has not run yet converts its outputs the same way).
    """

    indices: np.ndarray
    target: int
    members: dict
    outcomes: dict
    scores: dict
    log_odds: dict
    returns: dict


@dataclass
class ChunkOutput:
    """Everything one task produced, rows in the order of the models (model A's images, then
    model B's, ...).

    ``columns`` holds :data:`COLUMNS` (``bbox`` as ``int64 [r, 4]``); the arrays have one row
    per segment row (``games``: the row's image's target-class game, see
    :func:`~imacs_widget.engine.faithfulness.game_rows`); ``preview_index`` / ``previews`` one
    per image with a segment.
    """

    columns: dict
    shapley: np.ndarray
    games: np.ndarray | None
    embeddings: np.ndarray
    thumbnails: np.ndarray
    masks: np.ndarray
    preview_index: np.ndarray
    previews: np.ndarray
    hits: int = 0
    misses: int = 0

    def __len__(self) -> int:
        return len(self.columns["image_index"])


@dataclass
class Worker:
    """What one process needs to do :class:`ChunkTask` s (picklable, for Ray workers).

    Parameters
    ----------
    adapters : dict
        ``{model key: ModelAdapter}`` (``"A"``, ``"B"``, ... in the comparison's order).
    embedder : str, callable or Embedder
        The embedding model's spec (built on first use, in the process that uses it).
    settings : RunSettings
        The run's validated options.
    sigma : float
        Blur of excluded segments, in pixels.
    pixel_range : (float, float)
        The images' black and white values.
    cache_dir : str, optional
        The attribution cache's folder (shared storage when workers run on several machines).
    """

    adapters: dict
    embedder: object
    settings: RunSettings
    sigma: float
    pixel_range: tuple
    cache_dir: str | None = None
    _built: dict = field(default_factory=dict, repr=False)

    def __getstate__(self):  # built objects (the embedder's model, the cache) stay local
        state = dict(self.__dict__)
        state["_built"] = {}
        return state

    @property
    def cache(self) -> AttributionCache | None:
        """The attribution cache (``None`` without ``cache_dir``)."""
        if self.cache_dir is None:
            return None
        if "cache" not in self._built:
            self._built["cache"] = AttributionCache(self.cache_dir)
        return self._built["cache"]

    @property
    def built_embedder(self):
        """The embedder, built once per process."""
        if "embedder" not in self._built:
            from .embedding.embedders import get_embedder

            self._built["embedder"] = get_embedder(self.embedder, self.adapters.values())
        return self._built["embedder"]

    @property
    def embedder_name(self) -> str:
        """The embedder that runs (``"efficientnet_lite0"`` resolved to its framework, see
        :func:`~imacs_widget.engine.embedding.embedders.resolve_embedder`), without building it."""
        from .embedding.embedders import embedder_name, resolve_embedder

        return embedder_name(resolve_embedder(self.embedder, self.adapters.values())[0])

    def predict(self, images: np.ndarray) -> dict:
        """``{model: raw outputs [n, C]}`` of every model on ``images`` (an adapter that serves
        several keys, one model on two datasets, runs once)."""
        done = {}
        for ad in self.adapters.values():
            if id(ad) not in done:
                done[id(ad)] = ad.raw(images)
        return {m: done[id(ad)] for m, ad in self.adapters.items()}

    def attribute(self, task: ChunkTask, images: np.ndarray) -> ChunkOutput:
        """Rank, attribute, embed and cut the pictures of ``task``'s images (``images`` in
        ``task.indices`` order)."""
        st = self.settings
        images = np.asarray(images)
        x = images.astype(np.float32, copy=False)
        lmaps = segment_images(x, **st.segmentation_options)
        by_index = {int(i): j for j, i in enumerate(task.indices)}
        cols = {c: [] for c in COLUMNS}
        shap, games, hits, misses = [], [], 0, 0
        for m in self.adapters:  # the comparison's model order
            sel = np.flatnonzero(task.members[m])
            if not len(sel):
                continue
            found, h, mi = self._attribute_model(m, x[sel], images[sel],
                                                 [lmaps[j] for j in sel], task)
            hits, misses = hits + h, misses + mi
            for j, out, res in zip(sel, task.outcomes[m], found, strict=True):
                boxes = segment_bboxes(lmaps[j])
                game = np.asarray(res["game"], np.float64)  # the class's values [2^k]
                if game.ndim == 2:  # a cache entry holding every class
                    game = game[:, task.target]
                faith = image_faithfulness(game, np.asarray(res["values"])[:, task.target])
                games.append(game_rows(game, len(res["segments"]), st.k))
                for rank, (sid, v) in enumerate(zip(res["segments"], res["values"], strict=True)):
                    cols["model"].append(m)
                    cols["image_index"].append(int(task.indices[j]))
                    cols["segment_index"].append(int(sid))
                    cols["rank"].append(rank)
                    cols["bbox"].append(boxes[sid])
                    cols["outcome"].append(str(out))
                    cols["attribution"].append(float(v[task.target]))
                    for c in CURVE_COLUMNS:
                        cols[c].append(faith[c])
                    shap.append(np.asarray(v, np.float64))
        n_classes = next(iter(task.scores.values())).shape[1]
        columns = {
            "model": np.asarray(cols["model"], dtype=object),
            "image_index": np.asarray(cols["image_index"], np.int64),
            "segment_index": np.asarray(cols["segment_index"], np.int64),
            "rank": np.asarray(cols["rank"], np.int64),
            "bbox": np.asarray(cols["bbox"], np.int64).reshape(-1, 4),
            "outcome": np.asarray(cols["outcome"], dtype=object),
            "attribution": np.asarray(cols["attribution"], np.float64),
            **{c: np.asarray(cols[c], np.float64) for c in CURVE_COLUMNS}}
        keys = list(zip(columns["image_index"].tolist(), columns["segment_index"].tolist(),
                        strict=True))
        imgs = {int(i): images[j] for i, j in by_index.items()}
        label_maps = {int(i): lmaps[j] for i, j in by_index.items()}
        if keys:
            emb = embed_segments(imgs, keys, label_maps, self.pixel_range, self.built_embedder,
                                 progress=False)
            thumbs, masks = segment_thumbnails(imgs, keys, label_maps, self.pixel_range)
        else:
            emb, thumbs, masks = np.zeros((0, 0), np.float32), None, None
        shown = sorted(set(columns["image_index"].tolist()))
        prev = source_previews(imgs, shown, self.pixel_range)
        return ChunkOutput(
            columns=columns,
            shapley=np.stack(shap) if shap else np.zeros((0, n_classes)),
            games=(None if st.k > MAX_STORED_K else np.concatenate(games) if games
                   else np.zeros((0, 1 << st.k), np.float32)),
            embeddings=np.asarray(emb, np.float32), thumbnails=thumbs, masks=masks,
            preview_index=np.asarray(shown, np.int64),
            previews=np.stack([prev[i] for i in shown]) if shown else None,
            hits=hits, misses=misses)

    def _attribute_model(self, m: str, x: np.ndarray, raw: np.ndarray, lmaps: list,
                         task: ChunkTask) -> tuple[list[dict], int, int]:
        """Ranked segment ids and Shapley values of one model's images ``x`` (``raw``: as
        read, what the cache keys hash), looked up in and added to the cache."""
        st, ad, cache = self.settings, self.adapters[m], self.cache
        ad.returns = task.returns[m]
        keys = [None] * len(x)
        if cache is not None:
            fp = ad.fingerprint(tuple(x.shape[1:3]), self.pixel_range)
            part = st.attribution_key(task.target, self.sigma)
            keys = [cache.key(fp, ri, lm, part) for ri, lm in zip(raw, lmaps, strict=True)]
        found = [cache.get(k) if cache is not None else None for k in keys]
        found = [h if h is not None and "game" in h else None for h in found]  # older entries
        todo = [j for j, h in enumerate(found) if h is None]
        if todo:
            xt = x[todo]
            device_blur = getattr(ad.backend, "device_blur", None)
            blurred = baseline_images(xt, st.baseline, self.sigma,
                                      blur=device_blur() if device_blur is not None else None)
            lt = [lmaps[j] for j in todo]
            ranked = st.ranker(ad, xt, lt, blurred, task.target, st.k,
                               full_scores=task.log_odds[m][todo],
                               batch_size=st.batch_size, seed=st.seed)
            known = known_coalitions(ranked, task.scores[m][todo],
                                     getattr(ranked, "masked_scores", None))
            vals, games = segment_shapley(ad, xt, lt, blurred, ranked, st.batch_size,
                                          known=known, return_games=True)
            for j, r, v, g in zip(todo, ranked, vals, games, strict=True):
                g = np.asarray(g[:, task.target], np.float32)  # the key holds the target
                found[j] = {"segments": np.asarray(r, np.int64), "values": v, "game": g}
                if cache is not None:
                    cache.put(keys[j], segments=found[j]["segments"], values=v, game=g)
        return found, len(x) - len(todo), len(todo)
