"""The IMACS engine: the stages of :func:`~imacs_widget.engine.pipeline.compare`, in data-flow order.

``validation`` (user inputs) → ``predictions`` (each model over the whole set, once) →
``sampling`` (balanced confusion matrix per model) → ``segmentation`` (grid / SLIC label maps) →
``masking`` (Gaussian-blurred exclusion) → ``ranking`` (top-k segments per image) →
``shapley`` (exact segment Shapley values) → ``embedding`` (an independent model) →
``clustering`` (k-means of the pooled segments) → ``summary`` (per-cluster statistics, the one
definition every view uses). ``pipeline`` orchestrates them; ``settings`` holds a run's
validated options. Each module is pure functions over NumPy arrays and can be tested alone.
"""
