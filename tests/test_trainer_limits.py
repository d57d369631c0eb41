"""Every resource a config value controls is bounded by the machine, in one line, before a
run builds anything."""

from __future__ import annotations

import pytest
from trainer_tiny import tiny_config

from runwatch.errors import RunwatchError
from runwatch.trainer.config import Config, ModelConfig
from runwatch.trainer.limits import Machine, check_resources, count_parameters, this_machine

SMALL = Machine(cpus=4, memory=8 * 2**30)


def test_parameters_are_counted_without_building_the_model():
    # resnet50: 2048 * 1000 + 1000 in its head; the count is exact for any number of classes.
    assert count_parameters(Config(model=ModelConfig("resnet50", 1000))) == 25_557_032
    big = count_parameters(Config(model=ModelConfig("resnet50", 100_000_000)))
    assert big == 25_557_032 + (100_000_000 - 1000) * 2049
    # RegNet computes with tensors when built: counted on the CPU instead of the meta device.
    assert count_parameters(Config(model=ModelConfig("regnet_y_400mf", 10))) > 0


@pytest.mark.parametrize(("sections", "message"), [
    ({"data": {"workers": 100_000}},
     r"^data.workers is 100000, more than the 4 CPUs this process may use: set it to at "
     r"most 4"),
    ({"model": {"arch": "resnet50", "num_classes": 100_000_000}},
     r"^model.arch resnet50 with model.num_classes 100000000 has 204,923,508,032 parameters: "
     r"training it needs about 3,817.0 GiB, and this machine has 8.0 GiB"),
    ({"data": {"image_size": 8192, "batch_size": 256, "workers": 2}},
     r"^data.batch_size 256 at data.image_size 8192 with data.workers 2: the loader holds "
     r"about 960.0 GiB"),
    ({"model": {"num_classes": 1000}, "data": {"image_size": 1024}},
     r"^the synthetic set of model.num_classes 1000 at data.image_size 1024 .* needs about "
     r"11.7 GiB"),
    ({"data": {"train_size": 10**9}}, r"data.train_size 1000000000 .* needs about 37.3 GiB"),
])
def test_a_config_beyond_the_machine_is_refused_in_one_line(sections, message):
    with pytest.raises(RunwatchError, match=message) as err:
        check_resources(tiny_config(**sections), SMALL)
    assert "\n" not in str(err.value)


def test_the_configs_the_tests_run_fit():
    check_resources(tiny_config(data={"workers": 4}), SMALL)
    machine = this_machine()
    assert machine.cpus >= 1 and machine.memory > 2**28
