"""Synthetic patch-feature banks with the structure of real ones: many near-duplicate patches.

A memory bank holds the patches of a few good images of one product, so most patches have close
relatives (the same background, the same texture). ``clustered_features`` draws points around
cluster centres; queries are bank points moved by the same noise (good patches) or drawn far from
every centre (defects).
"""

from __future__ import annotations

import torch

# Bank points per cluster centre: a patch of plain surface recurs in every training image.
POINTS_PER_CLUSTER = 50
# Spread of the points around their centre, relative to the unit-variance centres.
CLUSTER_SPREAD = 0.35
# A hard case for half-precision ranking: plain background recurs almost unchanged, so many bank
# patches lie within bf16 rounding (~4e-3 in cosine) of a query's true nearest neighbour.
NEAR_DUPLICATE_SPREAD = 0.03


def clustered_features(count: int, dim: int, seed: int, spread: float = CLUSTER_SPREAD) -> torch.Tensor:
    """(count, dim) float32 points around count / POINTS_PER_CLUSTER random centres."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(max(1, count // POINTS_PER_CLUSTER), dim, generator=generator)
    owner = torch.randint(centres.shape[0], (count,), generator=generator)
    return centres[owner] + spread * torch.randn(count, dim, generator=generator)


def good_queries(bank: torch.Tensor, count: int, seed: int, spread: float = CLUSTER_SPREAD) -> torch.Tensor:
    """Patches like the bank's: random bank points moved by the cluster spread."""
    generator = torch.Generator().manual_seed(seed)
    picked = torch.randint(bank.shape[0], (count,), generator=generator)
    return bank[picked] + spread * torch.randn(count, bank.shape[1], generator=generator)


# How far a defect patch is pushed from a good one, relative to the cluster spread: small enough
# that max-patch scoring separates good from defect images imperfectly (image AUROC ~0.8), so an
# AUROC comparison between search implementations is not trivially 1.0 = 1.0.
DEFECT_SHIFT = 0.5


def defect_queries(bank: torch.Tensor, count: int, defects: int, seed: int) -> torch.Tensor:
    """Good-looking patches with ``defects`` of them pushed away from the bank."""
    queries = good_queries(bank, count, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    rows = torch.randperm(count, generator=generator)[:defects]
    queries[rows] += torch.randn(defects, bank.shape[1], generator=generator) * DEFECT_SHIFT * CLUSTER_SPREAD
    return queries
