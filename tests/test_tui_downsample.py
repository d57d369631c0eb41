import math

from tui.downsample import BucketSeries, minmax_buckets


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
