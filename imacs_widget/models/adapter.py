"""Model adapters: one documented callback contract for every kind of model.

Every stage that evaluates a model goes through :class:`ModelAdapter`:

``adapter.scores(batch) -> float64 [n, C]``
    ``batch`` is ``float32 [n, H, W, 3]`` in the *user's* pixel scale (e.g. 0–255). The adapter
    resizes to the model's input size, applies the model's own preprocessing, runs the model in
    batches of ``batch_size``, checks the output for NaN/inf and converts it to the requested score
    (softmax probability by default, or logits).

This lets each model have its own input size and preprocessing while the engine works on one set
of images. What runs the model is a *backend* (:mod:`imacs_widget.models.backends`): Keras 3 on
any backend, PyTorch modules, Hugging Face image classifiers, ONNX Runtime, or a plain callable;
each framework is imported only when such a model is passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from ..errors import ImacsInputError
from .contract import convert_outputs, qualified_name
from .preprocess import _AFFINE, PREPROCESS_NAMES, PREPROCESSORS, _affine_np  # noqa: F401
from .resize import resize_bilinear

SCORES = ("probability", "logit")


MASKING = ("auto", "device", "numpy")


def _default_masking() -> str:
    import os

    value = os.environ.get("IMACS_MASKING", "auto").strip().lower() or "auto"
    if value not in MASKING:
        raise ImacsInputError("IMACS_MASKING", f"must be one of {MASKING}, got {value!r}")
    return value


class ModelAdapter:
    """Wrap a model so every stage can score pixel-scale image batches.

    Parameters
    ----------
    model : keras.Model, torch.nn.Module, transformers model, onnxruntime session, path or callable
        The model, as it is (see :mod:`imacs_widget.models.backends`): a Keras 3 model (any
        Keras backend); a PyTorch ``nn.Module`` (channels-first 0..1 input by default, run in
        ``eval()`` mode under ``torch.inference_mode()`` on its own device and dtype); a Hugging
        Face image classifier (with its image processor); an ONNX Runtime
        ``InferenceSession`` or ``.onnx`` path; or any callable mapping ``float32 [N, H, W, 3]``
        (after ``preprocess``) to ``[N, C]`` class probabilities or logits.
    name : str
        Display name (shown in the widget).
    preprocess : str, callable, image processor or None
        Maps pixel-scale images to the model's input range. A key of :data:`PREPROCESSORS`
        (``"none"``, ``"unit"``, ``"symmetric"``, ``"imagenet"``, ``"caffe"``), ``"unit_range"``
        (the detected pixel range to 0..1), or a callable on NumPy arrays (and on tensors, for
        gradient rankings). For a Hugging Face model, its ``AutoImageProcessor``. ``None``: the
        model kind's default (``"none"`` for Keras and callables, e.g. a model with its own
        ``Rescaling`` layer; ``"unit_range"`` for PyTorch, Hugging Face and channels-first ONNX).
    input_size : (int, int) or None
        ``(height, width)`` the model expects. ``None``: from the model (a Keras model's input
        shape, a static ONNX input), otherwise images are passed at their own size.
    returns : {"auto", "probabilities", "logits"}
        What the model outputs. ``"auto"`` checks a Keras model's final activation, or whether the
        first outputs are non-negative rows summing to one.
    score : {"probability", "logit"}
        What the engine attributes: softmax probabilities (default) or logits. Asking for logits of
        a model that returns probabilities uses ``log(p)`` (logits up to a per-image constant).
    batch_size : int
        Images per model call.
    fingerprint : str or None
        Identifies the model for caches (see :meth:`fingerprint`).
    device : str or None
        PyTorch / Hugging Face models only: move the model there (default: where it is).
    """

    def __init__(self, model, name: str = "model", preprocess=None, input_size=None,
                 returns: str = "auto", score: str = "probability", batch_size: int = 64,
                 fingerprint: str | None = None, device=None):
        from .backends import backend_for
        from .hf_model import is_image_processor

        if isinstance(model, ModelAdapter):
            raise TypeError("model is already a ModelAdapter")
        if returns not in ("auto", "probabilities", "logits"):
            raise ImacsInputError("returns", f"must be 'auto', 'probabilities' or 'logits', got {returns!r}")
        if score not in SCORES:
            raise ImacsInputError("score", f"must be 'probability' or 'logit', got {score!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ImacsInputError("batch_size", f"must be a positive integer, got {batch_size!r}")
        processor = None
        if preprocess is not None and is_image_processor(preprocess):
            processor, preprocess = preprocess, None
        self.backend = backend_for(model, name, processor=processor, device=device)
        self.model = self.backend.model
        self.name = str(name)
        self.kind = self.backend.kind
        self.is_keras = self.kind == "keras"
        if preprocess is None:
            preprocess = self.backend.default_preprocess
        if isinstance(preprocess, str):
            if preprocess not in PREPROCESS_NAMES:
                raise ImacsInputError("preprocess", f"unknown preprocessing {preprocess!r}; "
                                      f"choose one of {sorted(PREPROCESS_NAMES)} or pass a callable")
            self.preprocess_name = preprocess
        else:
            if not callable(preprocess):
                raise ImacsInputError("preprocess", "must be a name or a callable")
            self.preprocess_name = getattr(preprocess, "__name__", "custom")
            self._custom_preprocess = preprocess
        if input_size is None:
            input_size = self.backend.input_size
        self.input_size = tuple(int(s) for s in input_size) if input_size is not None else None
        self.returns = returns
        self.score = score
        self.batch_size = int(batch_size)
        self.pixel_range = (0.0, 255.0)
        """``(black, white)`` of the images' pixel scale (set by ``compare``); ``"unit_range"``
        maps it to 0..1."""
        self._fingerprint = fingerprint
        self._fingerprint_given = fingerprint is not None
        self.masking = _default_masking()
        """Where masked images are composed, resized and preprocessed: ``"device"`` (with the
        model's own framework on its device, where the backend supports it: PyTorch, Hugging
        Face, Keras), ``"numpy"`` (on the host, every model kind) or ``"auto"`` (the default:
        the device path for PyTorch and Hugging Face models, and for Keras models on an
        accelerator; on a CPU, Keras models compose faster in NumPy). The default comes from
        the ``IMACS_MASKING`` environment variable (``auto`` when unset)."""
        self.n_evals = 0
        """Number of images passed through the model so far (for benchmarks)."""
        self.n_calls = 0
        """Number of model calls (batches) so far."""

    @property
    def class_names(self) -> list[str] | None:
        """Class names the model carries (a Hugging Face ``id2label``), or ``None``."""
        return self.backend.class_names

    # -- model-space helpers -------------------------------------------------------------------
    def _affine(self) -> tuple | None:
        """``(flip, scale, offset)`` of a named preprocessing, or ``None`` for a callable."""
        if self.preprocess_name == "unit_range":
            lo, hi = (float(v) for v in self.pixel_range)
            return False, 1.0 / (hi - lo), -lo / (hi - lo)
        return _AFFINE.get(self.preprocess_name) if not hasattr(self, "_custom_preprocess") else None

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """Apply the preprocessing to a pixel-scale NumPy batch (after resizing)."""
        spec = self._affine()
        return _affine_np(*spec)(x) if spec is not None else self._custom_preprocess(x)

    def tensor_preprocess(self):
        """The preprocessing as a function on framework tensors (TensorFlow or PyTorch), for
        gradients: named preprocessings are affine maps; a callable must accept tensors."""
        spec = self._affine()
        if spec is None:
            return self._custom_preprocess
        flip, scale, offset = spec
        scale, offset = np.asarray(scale, np.float32), np.asarray(offset, np.float32)

        def fn(x):
            if flip:
                x = x[..., ::-1] if not hasattr(x, "flip") else x.flip(-1)
            if hasattr(x, "new_tensor"):  # torch
                return x * x.new_tensor(scale) + x.new_tensor(offset)
            return x * scale + offset  # TensorFlow converts NumPy constants itself

        return fn

    def to_model_input(self, batch: np.ndarray) -> np.ndarray:
        """Resize (bilinear, half-pixel centres) and preprocess a pixel-scale batch."""
        x = np.asarray(batch, dtype=np.float32)
        if self.input_size is not None and tuple(x.shape[1:3]) != self.input_size:
            x = resize_bilinear(x, self.input_size)
        return np.asarray(self.preprocess(x), dtype=np.float32)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return self.backend.forward(x)

    def _detect_returns(self, out: np.ndarray) -> str:
        if self.returns != "auto":
            return self.returns
        hint = self.backend.output_hint()
        if hint is not None:
            return hint
        looks_prob = bool(np.all(out >= -1e-6) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
        return "probabilities" if looks_prob else "logits"

    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The model's own outputs on a pixel-scale batch: ``float64 [n, C]``, checked.

        Runs the model in batches of ``batch_size`` after resizing and preprocessing; raises
        :class:`~imacs_widget.errors.ImacsInputError` naming the model on a failing call, a
        wrong output shape or NaN/inf outputs. What the outputs are (probabilities or logits) is
        detected on the first call (see ``returns``) and fixed from then on.
        """
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[-1] != 3:
            raise ImacsInputError("batch", f"expected [n, H, W, 3], got shape {batch.shape}")
        outs = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start:start + self.batch_size]
            try:
                raw = self._raw(self.to_model_input(chunk))
            except ImacsInputError:
                raise
            except Exception as exc:
                raise ImacsInputError(
                    f"model {self.name!r}",
                    f"failed on a batch of shape {tuple(chunk.shape)} (input size "
                    f"{self.input_size}, preprocess {self.preprocess_name!r}): "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
            self.check_outputs(raw, len(chunk), "images in a batch")
            outs.append(raw)
            self.n_evals += len(chunk)
            self.n_calls += 1
        raw = np.concatenate(outs, axis=0) if outs else np.zeros((0, 0))
        self.settle_returns(raw)
        return raw

    def check_outputs(self, raw: np.ndarray, n: int, what: str = "images") -> None:
        """Raise :class:`~imacs_widget.errors.ImacsInputError` naming the model unless ``raw``
        is a finite ``[n, C]`` array (``what``: the inputs, for the message)."""
        if raw.ndim != 2 or raw.shape[0] != n:
            raise ImacsInputError(f"model {self.name!r}", f"returned shape {raw.shape} for "
                                  f"{n} images; expected [N, n_classes]")
        if not np.isfinite(raw).all():
            bad = np.flatnonzero(~np.isfinite(raw).all(axis=1))
            raise ImacsInputError(f"model {self.name!r}", f"returned NaN/inf scores for "
                                  f"{len(bad)} of {n} {what}; check the model and its "
                                  "preprocessing")

    def settle_returns(self, raw: np.ndarray) -> str:
        """Fix :attr:`returns` from raw outputs when it is still ``"auto"`` (so every batch is
        converted alike; a driver whose model ran elsewhere settles it from what came back)."""
        if raw.size:
            self.returns = self._detect_returns(raw)
        return self.returns

    def convert(self, raw: np.ndarray, kind: str | None = None) -> np.ndarray:
        """Raw outputs (from :meth:`raw`) → ``kind``: ``"probability"``, ``"logit"`` or
        ``"log_odds"`` (default: the attributed :attr:`score`). See :func:`convert_outputs`."""
        if raw.size == 0:
            return raw
        return convert_outputs(raw, self.returns, kind or self.score)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Score a pixel-scale batch ``[n, H, W, 3]`` → ``float64 [n, C]`` (see class docs)."""
        return self.convert(self.raw(batch))

    def log_odds(self, batch: np.ndarray) -> np.ndarray:
        """Per-class log-odds ``log p_c - log(1 - p_c)`` of a pixel-scale batch, ``[n, C]``.

        What rankings compare: unlike probabilities they do not saturate at 1.0 for a confident
        model (see :func:`convert_outputs`).
        """
        return self.convert(self.raw(batch), "log_odds")

    __call__ = scores

    # -- masked scoring ----------------------------------------------------------------------------
    def masked_raw(self, images: np.ndarray, baselines: np.ndarray, label_maps, jobs,
                   batch_size: int | None = None, progress: Callable[[int], None] | None = None
                   ) -> np.ndarray:
        """The model's own outputs on masked variants of ``images``: ``float64 [n_jobs, C]``.

        Parameters
        ----------
        images, baselines : numpy.ndarray
            ``float32 [N, H, W, 3]`` pixel-scale images and what their excluded segments show
            (the blurred images, by default).
        label_maps : sequence of numpy.ndarray
            ``int [H, W]`` segment ids per image.
        jobs : MaskedJobs
            What to score: per job an image index and its excluded segments
            (:class:`~imacs_widget.models.masked.MaskedJobs`).
        batch_size : int, optional
            Masked images per model call (default :attr:`batch_size`).
        progress : callable, optional
            Called with the number of jobs scored after each batch.

        Returns
        -------
        numpy.ndarray
            Raw outputs in job order, checked like :meth:`raw` (convert them with
            :meth:`convert`).

        Notes
        -----
        On the device path (see :attr:`masking`; PyTorch, Hugging Face and Keras models with a
        named preprocessing), the backend
        uploads the images, baselines and label maps once and composes, resizes, preprocesses
        and scores each batch on the model's own device; otherwise (``"numpy"``, ONNX Runtime,
        callables, a custom NumPy preprocessing) batches are composed in NumPy on the host's
        cores, the next one while the model scores the current one. Both give the same scores
        (to float rounding).
        """
        from .masked import score_masked

        return score_masked(self, images, baselines, label_maps, jobs, batch_size, progress)

    def uses_device_masking(self) -> bool:
        """Whether :meth:`masked_raw` composes and preprocesses with the model's framework on
        its device (see :attr:`masking`)."""
        if self.masking == "numpy":
            return False
        support = getattr(self.backend, "supports_masked", None)
        if support is None or not support(self):
            return False
        if self.masking == "device":
            return True
        prefers = getattr(self.backend, "prefers_masked", None)
        return bool(prefers is None or prefers())

    def n_classes(self, sample: np.ndarray) -> int:
        """Number of classes, from one forward pass on ``sample[:1]``."""
        return int(self.scores(sample[:1]).shape[1])

    # -- gradients (for XRAI / Guided IG ranking) ----------------------------------------------
    def gradient_function(self, example: np.ndarray):
        """Gradients of a class-weighted sum of the scores w.r.t. pixel-scale input.

        Returns ``(fn, n_classes, scores0)``: ``fn(x, weights) -> (grad, scores)`` on NumPy
        ``[n, H, W, 3]`` batches (``grad`` of ``sum_c weights_c * score_c``), the number of
        classes and the scores of ``example[:1]``. Raises
        :class:`~imacs_widget.models.backends.NotDifferentiable` (with the reason) for models
        without gradients (ONNX, Hugging Face processors, NumPy-only callables).
        """
        fn, n_classes, scores0 = self.backend.gradient_function(self, example)

        def counted(x, weights):
            out = fn(x, weights)
            self.n_evals += len(x)
            return out

        return counted, n_classes, scores0

    # -- identity --------------------------------------------------------------------------------
    def fingerprint(self, probe_shape: tuple[int, int] | None = None,
                    pixel_range: tuple[float, float] = (0.0, 255.0)) -> str:
        """A hash of what the model computes, for caches (cached after the first call).

        * an explicit ``fingerprint=`` given to the adapter is used as it is;
        * Keras models: architecture (``to_json``) and every weight; PyTorch and Hugging Face:
          module tree and state dict (plus the image processor's settings); ``.onnx`` files:
          their bytes;
        * anything else (callables, ONNX sessions): the code's qualified name plus a hash of the model's outputs on a
          fixed, seeded probe batch of two ``probe_shape`` images in ``pixel_range`` (so two
          callables with the same ``repr`` but different weights differ, and a plain function
          gets the same key in a new process). Outputs are rounded to 6 significant digits so
          that floating-point noise between runs does not change the key.

        The preprocessing, input size and attributed score are part of every fingerprint.
        """
        if self._fingerprint is None:
            h = hashlib.sha256(self.kind.encode())
            digest = self.backend.weights_digest()
            if digest is not None:
                h.update(digest)
            else:
                h.update(qualified_name(self.model).encode())
                shape = tuple(self.input_size or probe_shape or (32, 32))
                rng = np.random.default_rng(20240607)
                lo, hi = (float(v) for v in pixel_range)
                probe = (lo + rng.random((2, *shape, 3)) * (hi - lo)).astype(np.float32)
                saved = (self.n_evals, self.n_calls)
                out = self.raw(probe)
                self.n_evals, self.n_calls = saved  # the probe is not part of the run's work
                h.update(np.asarray([float(f"{v:.6g}") for v in out.ravel()]).tobytes())
            h.update(f"{self.preprocess_name}|{self.input_size}|{self.score}".encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def __repr__(self) -> str:
        return (f"ModelAdapter(name={self.name!r}, input_size={self.input_size}, "
                f"preprocess={self.preprocess_name!r}, score={self.score!r})")
