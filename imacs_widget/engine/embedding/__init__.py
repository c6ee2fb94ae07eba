"""Segment embeddings: the offline EfficientNet-Lite0 rebuild and the embedder registry."""
