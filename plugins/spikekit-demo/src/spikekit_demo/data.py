"""scikit-learn's digits (ships with scikit-learn, no download), split, scaled, and encoded as spike trains."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

__all__ = ["Digits", "load_digits", "encode"]


@dataclasses.dataclass(frozen=True)
class Digits:
    """The digits split into train and test sets.

    Attributes:
        x_train, x_test: images scaled to [0, 1], shape ``(N, 1, 8, 8)``, float32.
        y_train, y_test: labels 0..9, shape ``(N,)``, int64.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(seed: int, test_fraction: float = 0.25) -> Digits:
    """Load the 1797 8x8 digits, scale pixel values 0..16 to [0, 1], and split them (stratified by class).

    Args:
        seed: seeds the split, so that the same seed gives the same split.
        test_fraction: share of each class that goes to the test set.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0  # (N, 8, 8) in [0, 1]
    labels = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    test_idx: list[int] = []
    train_idx: list[int] = []
    for cls in range(10):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_test = round(len(idx) * test_fraction)
        test_idx.extend(idx[:n_test].tolist())
        train_idx.extend(idx[n_test:].tolist())
    train = np.array(sorted(train_idx))
    test = np.array(sorted(test_idx))
    x = torch.from_numpy(images).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(labels)
    return Digits(x[train], y[train], x[test], y[test])


def encode(encoder, images: torch.Tensor, timesteps: int, seed: int) -> torch.Tensor:
    """Turn images in [0, 1] into spike trains with a registered spikekit encoder.

    The random draws come from a generator seeded with ``seed``, so the encoding is reproducible and does not
    disturb the global random state.

    Args:
        encoder: the encoder class from ``spikekit.encoders.get("rate")`` (built as
            ``encoder(num_steps=T, generator=...)``, then called on the images).
        images: shape ``(N, C, H, W)``, values in [0, 1].
        timesteps: number of time steps T.

    Returns:
        Spike trains of shape ``(N, T, C, H, W)``, float32.
    """
    generator = torch.Generator().manual_seed(seed)
    spikes = encoder(num_steps=timesteps, generator=generator)(images)
    spikes = torch.as_tensor(spikes, dtype=torch.float32)
    expected = (images.shape[0], timesteps, *images.shape[1:])
    if tuple(spikes.shape) != expected:
        raise RuntimeError(
            f"spikekit-demo: the spike encoder returned shape {tuple(spikes.shape)}, expected {expected} (N, T, ...)"
        )
    return spikes
