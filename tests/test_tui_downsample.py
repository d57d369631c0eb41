import math

import pytest

from runwatch.tui.downsample import BucketSeries, minmax_buckets


def test_minmax_keeps_spikes_and_dips_of_100k_points():
    xs = list(range(100_000))
    ys = [1.0] * 100_000
    ys[31_337] = 9.0  # a spike a stride would miss
    ys[77_777] = -5.0  # a dip
    ys[500] = math.nan  # not drawable: dropped
    dx, dy = minmax_buckets(xs, ys, 100)
    assert len(dx) <= 200
    assert 9.0 in dy and -5.0 in dy
    assert dx == sorted(dx)
    assert dx[dy.index(9.0)] == 31_337


def test_minmax_short_input_unchanged():
    assert minmax_buckets([1, 2, 3], [5.0, 6.0, 7.0], 10) == ([1, 2, 3], [5.0, 6.0, 7.0])


def test_bucket_series_bounded_memory_and_exact_mean():
    series = BucketSeries(capacity=8)
    for i in range(1000):
        series.add(float(i))
    series.add(math.inf)  # ignored
    assert len(series.means()) <= 8
    assert len(series) == 1000
    total = sum(m * c for m, c in zip(series.means(), series._counts, strict=True))
    assert total == sum(range(1000))
    assert series.mins()[0] == 0.0
    series.clear()
    assert series.means() == [] and len(series) == 0


def test_extend_equals_add_one_by_one():
    values = [float((i * 37) % 101) for i in range(5000)] + [math.nan]
    one, bulk = BucketSeries(capacity=16), BucketSeries(capacity=16)
    for v in values[:1234]:
        one.add(v)
    bulk.extend(values[:1234])
    for v in values[1234:]:
        one.add(v)
    bulk.extend(values[1234:])
    assert bulk.width == one.width and bulk._counts == one._counts
    assert bulk.means() == pytest.approx(one.means()) and bulk.mins() == one.mins()
