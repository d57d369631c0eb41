import math

from runwatch.tui.downsample import bucket_means, minmax_buckets


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
    assert dx[dy.index(9.0)] == 31_337 and dx[dy.index(-5.0)] == 77_777


def test_minmax_short_input_unchanged():
    assert minmax_buckets([1, 2, 3], [5.0, 6.0, 7.0], 10) == ([1, 2, 3], [5.0, 6.0, 7.0])


def test_minmax_of_a_length_that_does_not_divide_keeps_the_last_point():
    xs = list(range(2001))
    ys = [0.0] * 2000 + [7.0]
    dx, dy = minmax_buckets(xs, ys, 1000)
    assert dy[-1] == 7.0 and dx[-1] == 2000 and len(dx) <= 2000


def test_bucket_means_are_means_of_consecutive_values():
    assert bucket_means([1.0, 3.0, 5.0, 7.0, math.inf], 2) == [2.0, 6.0]
    assert bucket_means([1.0, 2.0], 10) == [1.0, 2.0]
    assert len(bucket_means([float(i) for i in range(1000)], 7)) <= 7
