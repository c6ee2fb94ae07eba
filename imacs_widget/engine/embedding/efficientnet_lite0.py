"""Former home of EfficientNet-Lite0 (kept for older imports): the weights reader is
:mod:`imacs_widget.models.lite0.weights`, the Keras rebuild
:mod:`imacs_widget.models.lite0.keras_rebuild`."""

from ...models.lite0.keras_rebuild import build_efficientnet_lite0, load_efficientnet_lite0
from ...models.lite0.weights import (
    BLOCK_ARGS,
    EMBEDDING_DIM,
    IMAGENET_CLASS_HINTS,
    INPUT_SIZE,
    NUM_CLASSES,
    preprocess,
    read_legacy_torch_state_dict,
    weights_path,
)

__all__ = ["BLOCK_ARGS", "EMBEDDING_DIM", "IMAGENET_CLASS_HINTS", "INPUT_SIZE", "NUM_CLASSES",
           "build_efficientnet_lite0", "load_efficientnet_lite0", "preprocess",
           "read_legacy_torch_state_dict", "weights_path"]
