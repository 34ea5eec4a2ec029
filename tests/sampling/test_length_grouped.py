"""Batches of similar length: less padding, every row once, one global stream across ranks."""

import numpy as np
import torch

from longtail.sampling.length_grouped import LengthGroupedBatchSampler


def test_length_grouping_cuts_padding_and_covers_every_row_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 300, size=1000).tolist()
    grouped = LengthGroupedBatchSampler(lengths, 16, seed=1)
    plain = LengthGroupedBatchSampler(lengths, 16, seed=1, group_by_length=False)

    def padded_tokens(sampler):
        return sum(len(b) * max(lengths[i] for i in b) for b in sampler)

    rows = sorted(i for batch in grouped for i in batch)
    assert rows == list(range(1000))
    assert padded_tokens(grouped) < 0.7 * padded_tokens(plain)


def test_epoch_order_is_reproducible_and_changes_between_epochs():
    lengths = list(range(1, 200))
    a, b = (
        LengthGroupedBatchSampler(lengths, 8, seed=3),
        LengthGroupedBatchSampler(lengths, 8, seed=3),
    )
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)


def test_sampler_stream_is_used():
    class Fixed(torch.utils.data.Sampler):
        def __iter__(self):
            return iter([0, 0, 0, 1])

        def __len__(self):
            return 4

    batches = list(LengthGroupedBatchSampler([3, 4, 5], 2, sampler=Fixed()))
    assert sorted(i for b in batches for i in b) == [0, 0, 0, 1]
    assert len(LengthGroupedBatchSampler([3, 4, 5], 2, sampler=Fixed())) == 2


def test_ranks_split_one_global_stream():
    lengths = np.random.default_rng(0).integers(5, 300, size=101).tolist()
    single = LengthGroupedBatchSampler(lengths, 16, seed=4)
    ranks = [LengthGroupedBatchSampler(lengths, 8, seed=4, num_replicas=2, rank=r) for r in (0, 1)]
    for sampler in (single, *ranks):
        sampler.set_epoch(1)
    per_rank = [list(r) for r in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == len(single) == len(ranks[0])
    for step, global_batch in enumerate(single):
        assert sorted(per_rank[0][step] + per_rank[1][step]) == sorted(global_batch)
        assert per_rank[0][step] and per_rank[1][step], "every rank must get rows at every step"


def test_tiny_last_batch_is_padded_so_every_rank_steps():
    ranks = [
        LengthGroupedBatchSampler([3, 4, 5], 2, seed=0, num_replicas=4, rank=r) for r in range(4)
    ]
    assert all(len(list(r)) == 1 and len(list(r)[0]) >= 1 for r in ranks)
