import pytest
import torch

from dinoad.coreset import (
    coreset_size,
    importance_sample,
    kcenter_greedy,
    kcenter_greedy_reference,
    select_coreset,
)


def _points(count: int, dim: int, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize(("count", "dim", "keep", "start"), [(3000, 128, 60, 0), (1500, 64, 150, 777), (50, 8, 50, 3)])
def test_kcenter_greedy_picks_exactly_the_reference_indices(count, dim, keep, start):
    # float64 input: the vectorised |x|^2 - 2x.z + |z|^2 update and the reference's norm(Z - z)
    # then agree far below the gaps between candidate distances, so any difference is a logic bug.
    points = _points(count, dim, torch.float64)
    fast = kcenter_greedy(points, keep, start)
    reference = kcenter_greedy_reference(points, keep, start)
    assert fast.tolist() == reference.tolist()
    assert len(set(fast.tolist())) == keep


def test_kcenter_greedy_in_float32_matches_the_reference_too():
    points = _points(2000, 128)
    assert kcenter_greedy(points, 40, 5).tolist() == kcenter_greedy_reference(points, 40, 5).tolist()


def test_greedy_covers_the_bank_better_than_random():
    points = _points(2000, 32)
    greedy = select_coreset(points, "greedy", 0.02, seed=0)
    random = select_coreset(points, "random", 0.02, seed=0)

    def coverage_radius(indices):
        return torch.cdist(points, points[indices]).min(dim=1).values.max()

    assert coverage_radius(greedy) < coverage_radius(random)


@pytest.mark.parametrize("method", ["random", "importance", "greedy"])
def test_coresets_are_unique_sorted_seeded_and_sized_by_the_ratio(method):
    points = _points(1000, 400)  # > 128 dims: greedy runs on its sparse projection
    picked = select_coreset(points, method, 0.1, seed=1)
    assert len(picked) == coreset_size(1000, 0.1) == 100
    assert picked.tolist() == sorted(set(picked.tolist()))
    assert torch.equal(picked, select_coreset(points, method, 0.1, seed=1))
    assert not torch.equal(picked, select_coreset(points, method, 0.1, seed=2))


def test_none_or_ratio_one_keeps_everything_and_tiny_ratio_keeps_one():
    points = _points(10, 4)
    assert select_coreset(points, "none", 0.1, 0).tolist() == list(range(10))
    assert select_coreset(points, "random", 1.0, 0).tolist() == list(range(10))
    assert len(select_coreset(points, "greedy", 1e-6, 0)) == 1


def test_importance_sampling_prefers_rare_patches_but_keeps_common_ones():
    common = torch.randn(900, 16, generator=torch.Generator().manual_seed(0)) * 0.1
    rare = torch.randn(100, 16, generator=torch.Generator().manual_seed(1)) * 0.1 + 3.0
    picked = importance_sample(torch.cat([common, rare]), 100, seed=0)
    rare_share = (picked >= 900).float().mean().item()
    assert rare_share > 0.3  # 10 % of the bank, far over-represented
    assert (picked < 900).any()
