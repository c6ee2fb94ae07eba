"""Model adapters: the one callback contract every engine stage uses to evaluate a model.

:class:`ModelAdapter` wraps a Keras model or a plain callable (resizing, preprocessing,
batching, NaN checks, probability / logit conversion, a fingerprint for caches).
"""

from .adapter import PREPROCESSORS, SCORES, ModelAdapter, as_adapter, resize_batch

__all__ = ["PREPROCESSORS", "SCORES", "ModelAdapter", "as_adapter", "resize_batch"]
