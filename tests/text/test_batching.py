"""Tokenisation and padding: batches padded to their longest row; prediction longest first."""

from longtail.text.batching import inference_batches, pad_batch


def test_pad_batch_pads_to_multiple_of_8_with_mask():
    ids, mask = pad_batch([[1, 2, 3], [4]], pad_id=0)
    assert ids.shape == (2, 8)
    assert mask.sum(dim=1).tolist() == [3, 1]
    assert ids[1, 1:].eq(0).all()


def test_inference_batches_longest_first():
    batches = inference_batches([3, 10, 1, 7], 2)
    assert batches == [[1, 3], [0, 2]]
