"""The synthetic set is deterministic and learnable; the sampler replays any epoch from any step."""

from __future__ import annotations

import torch

from runwatch.trainer.data import ResumableSampler, ShardSampler, SyntheticImages


def test_synthetic_images_are_deterministic_and_class_conditional():
    a = SyntheticImages(200, 4, 16, seed=1, split=0, noise=0.5)
    b = SyntheticImages(200, 4, 16, seed=1, split=0, noise=0.5)
    x, y = a[7]
    assert x.shape == (3, 16, 16) and torch.equal(x, b[7][0]) and y == b[7][1]
    assert not torch.equal(x, SyntheticImages(200, 4, 16, 1, 1, 0.5)[7][0])  # other split
    # Learnable: a nearest-template rule beats chance (25%) by far; labels are not noise.
    images = torch.stack([a[i][0] for i in range(200)])
    labels = torch.tensor([a[i][1] for i in range(200)])
    scores = torch.einsum("nchw,kchw->nk", images, a.templates)
    flipped = torch.einsum("nchw,kchw->nk", images, a.templates.flip(3))
    guess = torch.maximum(scores, flipped).argmax(1)
    assert (guess == labels).float().mean() > 0.6
    assert len(set(labels.tolist())) == 4


def test_sampler_skips_the_steps_already_trained_and_shards_by_rank():
    data = list(range(40))
    full = ResumableSampler(data, num_replicas=2, rank=1, seed=5)
    full.set_epoch(3)
    order = list(full)
    assert len(order) == 20
    again = ResumableSampler(data, num_replicas=2, rank=1, seed=5)
    again.set_epoch(3, skip=8)
    assert list(again) == order[8:] and len(again) == 12
    other = ResumableSampler(data, num_replicas=2, rank=0, seed=5)
    other.set_epoch(3)
    assert sorted(order + list(other)) == data
    full.set_epoch(4)
    assert list(full) != order
    assert list(ShardSampler(5, 2, 1)) == [1, 3]


def test_worker_loaders_give_the_same_batches_as_the_main_process():
    from runwatch.trainer.config import DataConfig
    from runwatch.trainer.data import build_loaders

    cfg = DataConfig(dataset="synthetic", image_size=8, batch_size=4, workers=0)
    data = SyntheticImages(16, 3, 8, seed=0, split=0, noise=0.5)
    plain = build_loaders(cfg, data, data, world=1, rank=0, seed=1, pin_memory=False)
    plain.sampler.set_epoch(2)
    expected = [y.tolist() for _, y in plain.train]
    assert plain.steps == 4 == len(expected)
    workers = DataConfig(dataset="synthetic", image_size=8, batch_size=4, workers=1)
    loaders = build_loaders(workers, data, data, world=1, rank=0, seed=1, pin_memory=False)
    assert loaders.train.persistent_workers
    loaders.sampler.set_epoch(2)
    assert [y.tolist() for _, y in loaders.train] == expected
