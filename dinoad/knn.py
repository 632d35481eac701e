"""Exact k-nearest-neighbour patch distances to the memory bank, chunked to bound memory."""

from __future__ import annotations

import torch

# At most this many query x bank similarities exist at once (64 MB in fp32).
KNN_CHUNK_ELEMENTS = 1 << 24
# Candidates re-scored in fp32 per requested neighbour when the search runs in bf16/fp16:
# a half-precision similarity near 1 is only good to ~4e-3, too coarse for good-patch scores.
RERANK_EXTRA_CANDIDATES = 8


class KnnIndex:
    """A memory bank prepared for search: ``distances(queries, k)`` -> per-query mean kNN distance.

    ``metric`` is ``cosine`` (1 - cosine similarity) or ``euclidean``. The search runs in
    ``dtype`` (the bank's compute dtype); with a half-precision dtype the best candidates are
    re-scored exactly in fp32, so scores match an fp32 search to float precision. Final distances
    are always computed directly (not from the |q|^2 + |b|^2 - 2 q.b expansion used for ranking),
    so small euclidean distances do not suffer cancellation.
    """

    def __init__(self, bank: torch.Tensor, metric: str, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu") -> None:
        if bank.ndim != 2 or bank.shape[0] == 0:
            raise ValueError(f"memory bank must be a non-empty (N, D) matrix; got shape {tuple(bank.shape)}")
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be cosine or euclidean; got {metric!r}")
        exact = bank.to(device=device, dtype=torch.float32)
        if metric == "cosine":
            exact = torch.nn.functional.normalize(exact, dim=1)
        self.metric = metric
        self.dtype = dtype
        self.device = torch.device(device)
        self.exact = exact
        self.search = exact if dtype == torch.float32 else exact.to(dtype)
        self.search_sq_norms = (self.search.float() ** 2).sum(dim=1).to(dtype)

    def __len__(self) -> int:
        return self.exact.shape[0]

    @property
    def dim(self) -> int:
        return self.exact.shape[1]

    def distances(self, queries: torch.Tensor, k: int = 1) -> torch.Tensor:
        """(N, D) queries -> (N,) float32 mean distance to the ``k`` nearest bank patches."""
        if queries.shape[-1] != self.dim:
            raise ValueError(f"query features have {queries.shape[-1]} dims, the bank has {self.dim}")
        k = min(k, len(self))
        queries = queries.to(self.device, torch.float32)
        if self.metric == "cosine":
            queries = torch.nn.functional.normalize(queries, dim=1)
        half = self.dtype != torch.float32
        candidates = min(len(self), k + RERANK_EXTRA_CANDIDATES) if half else k
        rows = max(1, KNN_CHUNK_ELEMENTS // len(self))
        out = torch.empty(queries.shape[0], dtype=torch.float32, device=self.device)
        for begin in range(0, queries.shape[0], rows):
            chunk = queries[begin:begin + rows]
            _, indices = self._nearest(chunk.to(self.dtype), candidates)
            distance = self._exact_distances(chunk, indices)
            if half:
                distance = distance.topk(k, dim=1, largest=False).values
            out[begin:begin + rows] = distance.mean(dim=1)
        return out

    def _nearest(self, chunk: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        similarity = chunk @ self.search.T
        if self.metric == "cosine":
            return similarity.topk(count, dim=1)
        # |q-b|^2 = |q|^2 + |b|^2 - 2 q.b; |q|^2 is constant per row, so rank by |b|^2 - 2 q.b.
        partial = self.search_sq_norms - 2.0 * similarity
        return partial.topk(count, dim=1, largest=False)

    def _exact_distances(self, chunk: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """fp32 distances from each query to its candidate neighbours (rows, candidates)."""
        neighbours = self.exact[indices]  # (rows, candidates, D)
        if self.metric == "cosine":
            return (1.0 - torch.einsum("rd,rcd->rc", chunk, neighbours)).clamp_min(0.0)
        return torch.linalg.vector_norm(neighbours - chunk[:, None, :], dim=2)
