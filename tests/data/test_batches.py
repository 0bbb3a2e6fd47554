"""Bucketed batches: each padded to its own longest example, order seeded."""

import numpy as np

from keras_bigmodels.data.batches import EpochBatches


def _padded(lengths, width):
    x = np.zeros((len(lengths), width), "int32")
    for i, n in enumerate(lengths):
        x[i, :n] = i + 1  # example i's tokens are all i + 1
    return x


def test_each_batch_is_cut_to_its_own_longest_example():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 12, 301)
    lengths[17] = 400  # one stray long pair
    x = _padded(lengths, 400)
    y = np.arange(len(lengths))
    batches = EpochBatches.bucketed((x, y), (lengths, None), 16, seed=3, pool=8)
    seen, widths = [], []
    for bx, by in batches.dataset(epoch=0):
        bx, by = bx.numpy(), by.numpy()
        assert bx.shape[1] == lengths[by].max()  # padded to its own longest
        np.testing.assert_array_equal(bx[:, 0], by + 1)
        seen += by.tolist()
        widths.append(bx.shape[1])
    assert sorted(seen) == list(range(len(lengths)))  # each example once
    assert widths.count(400) == 1 and sorted(widths)[-2] <= 11
    # Bucketing: batches hold like lengths, far less padding than shuffling.
    padded = sum(widths) * 16
    assert padded < 0.5 * (len(lengths) * 400)
    assert batches.steps_per_epoch == len(widths) == 19


def test_bucketed_order_is_a_pure_function_of_seed_and_epoch():
    lengths = np.arange(1, 41) % 7 + 1
    x = _padded(lengths, 8)

    def order(seed, epoch, start=0):
        b = EpochBatches.bucketed(x, lengths, 4, seed=seed, pool=3)
        return [t.numpy()[:, 0].tolist() for t in b.dataset(epoch, start)]

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    assert order(0, 2, start=4) == order(0, 2)[4:]  # resume: no batch replayed
    fixed = EpochBatches.bucketed(x, lengths, 4, shuffle=False)
    first = [t.numpy()[:, 0].tolist() for t in fixed.dataset(0)]
    assert first == [t.numpy()[:, 0].tolist() for t in fixed.dataset(5)]
