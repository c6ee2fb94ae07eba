"""Cluster keys follow a cluster's members, not its number."""

import numpy as np

from imacs_widget.engine.cluster_keys import cluster_key, cluster_keys


def test_keys_follow_members_not_numbers():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 500)
    keys = cluster_keys(labels, 7)
    assert keys == [cluster_key(labels, c) for c in range(7)]
    assert len(set(keys)) == 7  # cluster 6 is empty: its key is that of no rows
    renumbered = (labels + 1) % 7  # same clusters, other numbers
    assert cluster_keys(renumbered, 7)[1:] == keys[:6]
    moved = labels.copy()
    moved[np.flatnonzero(labels == 2)[0]] = 3  # one segment changes cluster
    changed = cluster_keys(moved, 7)
    assert changed[2] != keys[2] and changed[3] != keys[3]
    assert [changed[c] for c in (0, 1, 4, 5, 6)] == [keys[c] for c in (0, 1, 4, 5, 6)]
