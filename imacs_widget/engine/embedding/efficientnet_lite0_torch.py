"""Former home of the PyTorch EfficientNet-Lite0 (kept for older imports): see
:mod:`imacs_widget.models.lite0.torch_rebuild`."""

from ...models.lite0.torch_rebuild import (
    build_efficientnet_lite0_torch,
    load_efficientnet_lite0_torch,
)

__all__ = ["build_efficientnet_lite0_torch", "load_efficientnet_lite0_torch"]
