import pytest
import torch

from dinoad.projection import project, projection_matrix


@pytest.mark.parametrize("kind", ["gaussian", "sparse"])
def test_projection_is_seeded_and_roughly_preserves_distances(kind):
    first = projection_matrix(384, 128, kind, seed=3)
    assert first.shape == (384, 128)
    assert torch.equal(first, projection_matrix(384, 128, kind, seed=3))
    assert not torch.equal(first, projection_matrix(384, 128, kind, seed=4))
    points = torch.randn(200, 384, generator=torch.Generator().manual_seed(0))
    original = torch.pdist(points)
    projected = torch.pdist(project(points, first))
    ratio = projected / original
    assert 0.9 < ratio.mean() < 1.1
    assert ratio.std() < 0.15


def test_sparse_projection_has_the_expected_density():
    matrix = projection_matrix(400, 64, "sparse", seed=0)
    density = (matrix != 0).float().mean().item()
    assert abs(density - 1 / 20) < 0.01
    assert set(matrix.unique().tolist()) == {-matrix.max().item(), 0.0, matrix.max().item()}


def test_no_projection_returns_the_features_and_unknown_kind_is_refused():
    features = torch.randn(5, 8)
    assert project(features, None) is features
    with pytest.raises(ValueError, match="gaussian or sparse"):
        projection_matrix(8, 4, "orthogonal", 0)
