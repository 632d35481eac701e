"""Shrinking the memory bank: random, importance-weighted or greedy k-center (PatchCore) subsets."""

from __future__ import annotations

import torch

from dinoad.projection import projection_matrix

# PatchCore runs k-center greedy on a sparse random projection: distances survive, the
# per-iteration matrix-vector product gets 3x cheaper for ViT-S features.
GREEDY_PROJECTION_DIM = 128


def coreset_size(num_patches: int, ratio: float) -> int:
    return max(1, min(num_patches, round(num_patches * ratio)))


def select_coreset(features: torch.Tensor, method: str, ratio: float, seed: int) -> torch.Tensor:
    """Indices (sorted, int64) of the patches to keep from an (N, D) bank."""
    count = features.shape[0]
    keep = coreset_size(count, ratio)
    if method == "none" or keep == count:
        return torch.arange(count, device=features.device)
    if method == "random":
        generator = torch.Generator(device=features.device).manual_seed(seed)
        picked = torch.randperm(count, generator=generator, device=features.device)[:keep]
    elif method == "importance":
        picked = importance_sample(features, keep, seed)
    elif method == "greedy":
        reduced, start = greedy_inputs(features, seed)
        picked = kcenter_greedy(reduced, keep, start)
    else:
        raise ValueError(f"coreset method must be none, random, importance or greedy; got {method!r}")
    return picked.sort().values


def greedy_inputs(features: torch.Tensor, seed: int) -> tuple[torch.Tensor, int]:
    """The points k-center greedy runs on (float32, sparse-projected when wider than
    GREEDY_PROJECTION_DIM) and its seeded first pick; shared with the benchmark's reference run."""
    reduced = features.float()
    if features.shape[1] > GREEDY_PROJECTION_DIM:
        matrix = projection_matrix(features.shape[1], GREEDY_PROJECTION_DIM, "sparse", seed)
        reduced = reduced @ matrix.to(features.device)
    start = int(torch.randint(features.shape[0], (1,), generator=torch.Generator().manual_seed(seed)))
    return reduced, start


def importance_sample(features: torch.Tensor, keep: int, seed: int) -> torch.Tensor:
    """Weighted sample without replacement, weight = distance of a patch to the bank's mean patch.

    Rare patches (edges, texture details) lie far from the mean and are kept with higher
    probability; common ones (plain surface) are thinned but still represented. Sampling uses the
    Gumbel-top-k trick (Efraimidis-Spirakis): top-k of log(w) + Gumbel noise draws k items without
    replacement with probabilities proportional to w, in one vectorised `torch.topk`.
    """
    data = features.float()
    weight = torch.linalg.vector_norm(data - data.mean(dim=0), dim=1).clamp_min(1e-12)
    generator = torch.Generator(device=features.device).manual_seed(seed)
    uniform = torch.rand(weight.shape, generator=generator, device=features.device).clamp_(1e-12, 1.0)
    keys = weight.log() - torch.log(-torch.log(uniform))
    return torch.topk(keys, keep).indices


def kcenter_greedy(points: torch.Tensor, keep: int, start: int) -> torch.Tensor:
    """Farthest-point selection of ``keep`` rows of (N, D) ``points``, beginning at ``start``.

    Squared distances to the newest centre come from one matrix-vector product
    (|x|^2 - 2 x.z + |z|^2) instead of materialising ``points - z`` each iteration.
    Returns indices in selection order.
    """
    count = points.shape[0]
    keep = min(keep, count)
    squared_norms = (points * points).sum(dim=1)
    selected = torch.empty(keep, dtype=torch.long)
    selected[0] = start
    min_distances = (squared_norms - 2.0 * (points @ points[start]) + squared_norms[start]).clamp_min_(0)
    buffer = torch.empty_like(min_distances)
    for step in range(1, keep):
        index = int(torch.argmax(min_distances))
        selected[step] = index
        torch.mv(points, points[index], out=buffer)
        buffer.mul_(-2.0).add_(squared_norms).add_(squared_norms[index]).clamp_min_(0)
        torch.minimum(min_distances, buffer, out=min_distances)
    return selected


def kcenter_greedy_reference(points: torch.Tensor, keep: int, start: int) -> torch.Tensor:
    """Straightforward PatchCore/anomalib k-center greedy: ``norm(points - z)`` every iteration.

    Kept as the ground truth for tests and the speed benchmark, not used by the product.
    """
    keep = min(keep, points.shape[0])
    selected = [start]
    min_distances = torch.linalg.norm(points - points[start], dim=1)
    for _ in range(1, keep):
        index = int(torch.argmax(min_distances))
        selected.append(index)
        min_distances = torch.minimum(min_distances, torch.linalg.norm(points - points[index], dim=1))
    return torch.tensor(selected, dtype=torch.long)

