"""The chart's x axis: whole epochs."""

from runwatch.tui.widgets.accuracy_chart import epoch_ticks


def test_x_ticks_are_whole_epochs_from_first_to_last():
    assert epoch_ticks(list(range(1, 25))) == [1, 7, 13, 19, 24]  # not 6.8, 12.5, 18.2
    assert epoch_ticks([3.0, 4.0]) == [3, 4] and epoch_ticks([5]) == [5] and epoch_ticks([]) == []
    ticks = epoch_ticks(list(range(1, 9)))
    assert ticks[0] == 1 and ticks[-1] == 8 and ticks[-1] - ticks[-2] >= 2
