"""Seeded random projections that shrink patch features before they enter the memory bank."""

from __future__ import annotations

import math

import torch


def projection_matrix(in_dim: int, out_dim: int, kind: str, seed: int) -> torch.Tensor:
    """A (in_dim, out_dim) float32 matrix that roughly preserves distances (Johnson-Lindenstrauss).

    ``gaussian``: N(0, 1/out_dim) entries. ``sparse``: Li et al.'s very sparse projection with
    density 1/sqrt(in_dim): entries +-sqrt(1 / (density * out_dim)), zero otherwise.
    The same (kind, seed, dims) always gives the same matrix.
    """
    generator = torch.Generator().manual_seed(seed)
    if kind == "gaussian":
        return torch.randn(in_dim, out_dim, generator=generator) / math.sqrt(out_dim)
    if kind == "sparse":
        density = 1.0 / math.sqrt(in_dim)
        draw = torch.rand(in_dim, out_dim, generator=generator)
        scale = math.sqrt(1.0 / (density * out_dim))
        matrix = torch.zeros(in_dim, out_dim)
        matrix[draw < density / 2] = -scale
        matrix[draw > 1.0 - density / 2] = scale
        return matrix
    raise ValueError(f"projection kind must be gaussian or sparse; got {kind!r}")


def project(features: torch.Tensor, matrix: torch.Tensor | None) -> torch.Tensor:
    """Apply a projection to (..., D) features; ``None`` means no projection."""
    if matrix is None:
        return features
    return features @ matrix.to(features.device, features.dtype)
