"""EfficientNet-Lite0 with offline ImageNet weights: the weights reader (:mod:`.weights`, NumPy),
and rebuilds in Keras (:mod:`.keras_rebuild`) and PyTorch (:mod:`.torch_rebuild`)."""
