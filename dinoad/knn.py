"""k-nearest-neighbour patch distances to the memory bank: tiled matrix products, exact fp32 re-scoring.

How a search runs (see BENCHMARKS.md for the measurements behind each choice):

1. The bank is cut into groups of ``GROUP_SIZE`` consecutive rows. For a block of queries, one
   matrix product per bank tile (in the bank's compute dtype, bf16 on CPUs with bf16 units) gives
   a ranking score per (bank row, query); only each group's best score is kept. The tile is laid
   out bank-major, so that reduction is a vectorised maximum over rows while the tile is still
   in cache: the full query x bank score matrix is never written to memory.
2. Per query the ``k + RERANK_EXTRA_GROUPS`` best groups are chosen, and every row of those
   groups is re-scored exactly in fp32 against the untouched bank (distances computed directly,
   not from the |q|^2 + |b|^2 - 2 q.b expansion, so small euclidean distances keep their digits).

Ranking precision: a half-precision product is accumulated in fp32 but rounded to bf16 on output,
which near a cosine similarity of 1 is a 4e-3 step, coarser than the gaps between near-duplicate
background patches. So the bank carries extra columns and each query an offset: the product
returns ``score - reference`` (the reference is the query's best score over a sample of the bank),
a small number whose bf16 rounding is negligible (queries whose sample was unlucky are searched
once more with the best score found as reference). The euclidean term |b|^2 / 2 travels as a bf16
high + low pair for the same reason. What remains is the bf16 rounding of the features themselves
(~1e-4 in cosine): among patches closer to each other than that, a bf16 search may return a
neighbour up to that much farther than the nearest (BENCHMARKS.md measures how often). In fp32 the
best k groups provably contain the k nearest rows (each group ranked above a true neighbour holds
a row closer than it), so an fp32 index is exact.
"""

from __future__ import annotations

import math

import torch

# Working buffers of one query block (group maxima, re-ranking candidates) hold at most about this
# many elements (~64 MB), which bounds memory for big banks.
KNN_CHUNK_ELEMENTS = 1 << 24
# Largest query block: a whole 512 px frame (1024 patches) in one block means fewer, larger
# kernel calls, which matters when other threads compete for the cores (measured in BENCHMARKS.md).
MAX_QUERY_BLOCK = 1024
# Bank rows per matrix product: the (tile, 1024 queries) bf16 score block is 8 MB, read back from
# cache by the group maximum right after the product.
BANK_TILE_ROWS = 4096
# Consecutive bank rows summarised by one maximum; candidates are re-scored a group at a time.
GROUP_SIZE = 8
# Group maxima are summarised again per this many groups, so the top-k selection (slow next to
# a plain maximum) only runs over 1/SUPER_GROUP of them and then inside the chosen super-groups.
SUPER_GROUP = 16
# Queries re-scored together: their candidate rows (fp32) stay a few MB, and one buffer is reused.
RERANK_BLOCK = 256
# Groups re-scored beyond the k needed, to absorb half-precision rounding of the ranking scores.
RERANK_EXTRA_GROUPS = 2
# Every this-many-th bank row forms the sample that gives each query its reference score.
REFERENCE_SAMPLE_STRIDE = 16
# A query is searched again with a better reference when the rounding step of its best score
# (BF16_STEP x |score - reference|) exceeds this share of its estimated nearest distance (in score
# units): good patches whose sample missed their neighbours are redone, far-off defect patches not.
RANKING_TOLERANCE = 0.01
BF16_STEP = 2.0**-8
# Extra bank columns: [1 (times the query's -reference), -|b|^2/2 high part, -|b|^2/2 low part].
EXTRA_COLUMNS = 3


class KnnIndex:
    """A memory bank prepared for search: ``distances(queries, k)`` -> per-query mean kNN distance.

    ``metric`` is ``cosine`` (1 - cosine similarity) or ``euclidean``. The ranking runs in
    ``dtype`` (the bank's compute dtype); the final distances are always fp32 and computed
    directly from the chosen bank rows. With fp32 ranking the result equals a brute-force search
    to float precision; with bf16 ranking, see the module notes on near-duplicate patches.
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
        count = exact.shape[0]
        whole = GROUP_SIZE * SUPER_GROUP
        padded_count = -(-count // whole) * whole
        # Zero rows pad the bank to whole super-groups; their scores are forced to -inf before
        # ranking and their distances to +inf after re-scoring, so they can never be chosen.
        padded = torch.zeros(padded_count, exact.shape[1], dtype=torch.float32, device=self.device)
        padded[:count] = exact
        self._count = count
        self._exact_groups = padded.view(padded_count // GROUP_SIZE, GROUP_SIZE * exact.shape[1])
        self.exact = padded[:count]
        # Euclidean ranking uses q.b - |b|^2 / 2 (same order as -|q - b|^2). Centring the bank first
        # leaves distances unchanged but shrinks the magnitudes that half precision must hold.
        self._centre = exact.mean(dim=0) if metric == "euclidean" else None
        centred = padded if self._centre is None else padded - self._centre
        search = torch.zeros(padded_count, exact.shape[1] + EXTRA_COLUMNS, dtype=dtype, device=self.device)
        search[:, :exact.shape[1]] = centred
        search[:, -3] = 1.0
        if metric == "euclidean":
            half_sq_norms = (centred * centred).sum(dim=1).mul_(0.5)
            high = half_sq_norms.to(dtype)
            search[:, -2] = -high
            search[:, -1] = -(half_sq_norms - high.float())
        self._search = search
        self._sample = search[:count:REFERENCE_SAMPLE_STRIDE].contiguous()

    def __len__(self) -> int:
        return self._count

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
        num_groups = self._exact_groups.shape[0]
        groups = min(num_groups, k + RERANK_EXTRA_GROUPS)
        per_query = num_groups + groups * GROUP_SIZE * self.dim
        rows = max(1, min(MAX_QUERY_BLOCK, KNN_CHUNK_ELEMENTS // per_query))
        best_groups = torch.empty(queries.shape[0], groups, dtype=torch.long, device=self.device)
        retries: list[tuple[torch.Tensor, torch.Tensor]] = []  # (query indices, augmented columns) to redo
        for begin in range(0, queries.shape[0], rows):
            best_groups[begin:begin + rows], again, columns = self._best_groups(queries[begin:begin + rows], groups)
            if again.numel():
                retries.append((again + begin, columns))
        if retries:
            # One more pass over the bank for every query that needs it, all blocks together.
            again = torch.cat([index for index, _ in retries])
            columns = torch.cat([column for _, column in retries], dim=1)
            for first in range(0, again.numel(), rows):
                group_max = self._group_maxima(columns[:, first:first + rows].contiguous())
                best_groups[again[first:first + rows]] = self._top_groups(group_max, groups)
        out = torch.empty(queries.shape[0], dtype=torch.float32, device=self.device)
        chunk = min(RERANK_BLOCK, queries.shape[0])
        buffer = torch.empty(chunk * groups, self._exact_groups.shape[1], dtype=torch.float32, device=self.device)
        for begin in range(0, queries.shape[0], chunk):
            stop = min(begin + chunk, queries.shape[0])
            distance = self._exact_distances(queries[begin:stop], best_groups[begin:stop], buffer)
            out[begin:stop] = distance.topk(k, dim=1, largest=False).values.mean(dim=1)
        return out

    def _best_groups(self, block: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rows, count) indices of the groups holding each query's best ranking scores, plus the
        queries (indices in the block) to search again and their augmented columns for that."""
        ranked = block if self._centre is None else block - self._centre
        augmented = torch.ones(self._search.shape[1], block.shape[0], dtype=self.dtype, device=self.device)
        augmented[:self.dim] = ranked.T
        augmented[-3] = 0.0
        none = torch.empty(0, dtype=torch.long, device=self.device)
        if self.dtype == torch.float32:  # fp32 output rounding is already negligible
            return self._top_groups(self._group_maxima(augmented), count), none, augmented[:, :0]
        # Reference = the best score over a sample of the bank; its own rounding does not matter,
        # the same offset applies to every bank row of the query.
        reference = (self._sample @ augmented).amax(dim=0).float()
        augmented[-3] = -reference
        group_max = self._group_maxima(augmented)
        super_max = self._super_maxima(group_max)
        # A query whose sample missed its near neighbours got a poor reference, and its best scores
        # were rounded coarsely: it is searched again, relative to the best score just found.
        best = super_max.amax(dim=0).float()
        nearest = reference + best  # estimated best score: similarity, or q.b - |b|^2 / 2
        gap = 1.0 - nearest if self.metric == "cosine" else (ranked * ranked).sum(dim=1) * 0.5 - nearest
        # Below the rounding of the features themselves (~BF16_STEP |q| |b| / sqrt(D)) a retry cannot help.
        floor = BF16_STEP * (ranked * ranked).sum(dim=1) / math.sqrt(self.dim)
        rounding = best.abs() * BF16_STEP
        again = torch.nonzero((rounding > RANKING_TOLERANCE * gap.clamp_min(0.0)) & (rounding > floor)).squeeze(1)
        retry = augmented[:, again]
        retry[-3] = -(reference[again] + best[again])
        return self._top_groups(group_max, count, super_max), again, retry

    def _group_maxima(self, augmented: torch.Tensor) -> torch.Tensor:
        """(groups, rows) best ranking score of each bank group for each query column."""
        rows = augmented.shape[1]
        padded_rows = self._search.shape[0]
        tile_rows = BANK_TILE_ROWS - BANK_TILE_ROWS % GROUP_SIZE
        parts = []
        for start in range(0, padded_rows, tile_rows):
            stop = min(start + tile_rows, padded_rows)
            scores = self._search[start:stop] @ augmented  # (tile, rows): score - reference
            if stop > self._count:
                scores[max(0, self._count - start):] = float("-inf")
            parts.append(scores.view(-1, GROUP_SIZE, rows).amax(dim=1))
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    @staticmethod
    def _super_maxima(group_max: torch.Tensor) -> torch.Tensor:
        """(groups / SUPER_GROUP, rows) maxima of consecutive SUPER_GROUP groups (a fast reduction)."""
        return group_max.view(-1, SUPER_GROUP, group_max.shape[1]).amax(dim=1)

    def _top_groups(self, group_max: torch.Tensor, count: int, super_max: torch.Tensor | None = None) -> torch.Tensor:
        """(rows, count) indices of the ``count`` largest of each column of (groups, rows) maxima,
        whose row count is a multiple of SUPER_GROUP (as ``_group_maxima`` returns them).

        Exact: a group among the best ``count`` lies in a super-group among the best ``count``.
        """
        num_groups, rows = group_max.shape
        supers = num_groups // SUPER_GROUP
        if supers <= count:
            return group_max.T.topk(count, dim=1).indices
        nested = group_max.view(supers, SUPER_GROUP, rows)
        if super_max is None:
            super_max = self._super_maxima(group_max)
        best_supers = super_max.T.topk(count, dim=1).indices  # (rows, count)
        columns = torch.arange(rows, device=self.device)[:, None]
        inside = nested[best_supers, :, columns].reshape(rows, -1)  # (rows, count * SUPER_GROUP)
        local = inside.topk(count, dim=1).indices
        return best_supers.gather(1, local // SUPER_GROUP) * SUPER_GROUP + local % SUPER_GROUP

    def _exact_distances(self, block: torch.Tensor, best_groups: torch.Tensor, buffer: torch.Tensor) -> torch.Tensor:
        """fp32 distances from each query to every row of its chosen groups (rows, groups * GROUP_SIZE)."""
        rows, dim = block.shape
        flat = best_groups.reshape(-1)
        candidates = torch.index_select(self._exact_groups, 0, flat, out=buffer[:flat.numel()]).view(rows, -1, dim)
        if self.metric == "cosine":
            distance = (1.0 - torch.bmm(candidates, block[:, :, None]).squeeze(2)).clamp_min_(0.0)
        else:
            distance = torch.linalg.vector_norm(candidates - block[:, None, :], dim=2)
        if self._exact_groups.shape[0] * GROUP_SIZE > self._count:
            row_index = (best_groups[:, :, None] * GROUP_SIZE + torch.arange(GROUP_SIZE, device=self.device))
            distance.masked_fill_(row_index.view(rows, -1) >= self._count, float("inf"))
        return distance
