import numpy as np
import pytest
import torch

from dinoad import knn
from dinoad.knn import KnnIndex


def _brute_force(queries: np.ndarray, bank: np.ndarray, k: int, metric: str) -> np.ndarray:
    queries, bank = queries.astype(np.float64), bank.astype(np.float64)
    if metric == "cosine":
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
        distances = 1.0 - q @ b.T
    else:
        distances = np.linalg.norm(queries[:, None, :] - bank[None, :, :], axis=2)
    return np.sort(distances, axis=1)[:, :k].mean(axis=1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(700, 24)).astype(np.float32)
    queries = np.concatenate([bank[:50] + rng.normal(scale=0.01, size=(50, 24)), rng.normal(size=(30, 24))])
    return torch.from_numpy(queries.astype(np.float32)), torch.from_numpy(bank)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("k", [1, 3])
def test_distances_match_brute_force(data, metric, k):
    queries, bank = data
    got = KnnIndex(bank, metric).distances(queries, k).numpy()
    assert np.allclose(got, _brute_force(queries.numpy(), bank.numpy(), k, metric), atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_chunking_does_not_change_results(data, monkeypatch, metric):
    queries, bank = data
    whole = KnnIndex(bank, metric).distances(queries, 2)
    monkeypatch.setattr(knn, "KNN_CHUNK_ELEMENTS", 700 * 7)  # 7 query rows per chunk
    assert torch.allclose(KnnIndex(bank, metric).distances(queries, 2), whole)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_bf16_search_with_fp32_rescoring_matches_fp32(data, metric):
    queries, bank = data
    exact = KnnIndex(bank, metric).distances(queries, 1)
    half = KnnIndex(bank, metric, dtype=torch.bfloat16).distances(queries, 1)
    assert half.dtype == torch.float32
    assert torch.allclose(half, exact, atol=1e-5)


def test_near_duplicate_queries_score_near_zero_and_k_is_capped(data):
    queries, bank = data
    distances = KnnIndex(bank, "cosine").distances(queries, 1)
    assert distances[:50].max() < 1e-3 < distances[50:].min()
    tiny = KnnIndex(bank[:2], "euclidean")
    assert tiny.distances(queries[:3], k=10).shape == (3,)


def test_bad_banks_and_queries_are_refused(data):
    queries, bank = data
    with pytest.raises(ValueError, match="non-empty"):
        KnnIndex(bank[:0], "cosine")
    with pytest.raises(ValueError, match="cosine or euclidean"):
        KnnIndex(bank, "manhattan")
    with pytest.raises(ValueError, match="dims"):
        KnnIndex(bank, "cosine").distances(queries[:, :5])


@pytest.mark.parametrize("num_groups", [16, 96, 336])
def test_two_level_group_selection_keeps_the_best_groups(num_groups):
    # The super-group shortcut must return the same top scores as a plain topk over all groups.
    index = KnnIndex(torch.randn(16, 4), "cosine")
    group_max = torch.randn(num_groups, 37, generator=torch.Generator().manual_seed(num_groups))
    picked = index._top_groups(group_max, 3)
    expected = group_max.T.topk(3, dim=1).values
    assert torch.equal(group_max.T.gather(1, picked).sort(dim=1, descending=True).values, expected)
