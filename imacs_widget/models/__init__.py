"""Model adapters: the one callback contract every engine stage uses to evaluate a model.

:class:`ModelAdapter` wraps a Keras model, a PyTorch module, a Hugging Face classifier, an ONNX
Runtime session or a plain callable (resizing, preprocessing, batching, NaN checks, probability
/ logit conversion, masked scoring on the model's device, a fingerprint for caches).
"""

from .adapter import PREPROCESSORS, SCORES, ModelAdapter
from .wrap import as_adapter, resize_batch

__all__ = ["PREPROCESSORS", "SCORES", "ModelAdapter", "as_adapter", "resize_batch"]
