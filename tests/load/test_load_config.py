"""Load parameters are checked before anything connects; the open model's arrivals."""

from __future__ import annotations

import json

import pytest

from netra_ops.errors import ConfigError
from netra_ops.load import MAX_USERS, LoadConfig, Threshold, arrival_offsets


def test_the_defaults_are_the_seeds_shape() -> None:
    config = LoadConfig()
    assert (config.model, config.users, config.duration_s) == ("closed", 10, 300.0)
    assert config.describe() == "closed model: 10 users for 300 s"
    assert config.wait_limit_s == config.turn_timeout_s


@pytest.mark.parametrize(("options", "message"), [
    ({"model": "ramp"}, "model must be one of closed, open"),
    ({"users": 0}, f"users must be 1..{MAX_USERS}"),
    ({"users": MAX_USERS + 1}, "scale out with the Locust path"),
    ({"duration_s": 0}, "duration_s must be a number > 0"),
    ({"model": "open"}, "the open model needs rate="),
    ({"rate": 5.0}, "rate= is for the open model"),
    ({"think_time_s": -1}, "think_time_s must be a number >= 0"),
    ({"arrivals": "burst", "model": "open", "rate": 1}, "arrivals must be one of"),
    ({"message": " "}, "message must be a non-empty text"),
    ({"thresholds": ["error_rate > 0.05"]}, "thresholds must be Threshold"),
    ({"userz": 3}, "unknown load option userz; options are: model, users"),
])
def test_bad_options_say_what_is_wrong(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LoadConfig.of(None, options)


def test_options_replace_fields_of_a_config() -> None:
    base = LoadConfig(users=3, thresholds=[Threshold("error_rate", ">", 0.05)])
    config = LoadConfig.of(base, {"model": "open", "rate": 20.0})
    assert (config.users, config.rate, len(config.thresholds)) == (3, 20.0, 1)
    assert isinstance(config.thresholds, tuple)
    data = json.loads(json.dumps(config.to_dict()))
    assert data["thresholds"][0]["metric"] == "error_rate" and data["rate"] == 20.0
    assert config.describe() == ("open model: 20 turns/s (constant) for 300 s, pool of 3 "
                                 "connections")


def test_constant_arrivals_are_evenly_spaced_within_the_duration() -> None:
    offsets = list(arrival_offsets(LoadConfig(model="open", rate=4.0, duration_s=2.0)))
    assert offsets == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_poisson_arrivals_are_repeatable_with_a_seed_and_near_the_rate() -> None:
    config = LoadConfig(model="open", rate=50.0, duration_s=100.0, arrivals="poisson", seed=7)
    offsets = list(arrival_offsets(config))
    assert offsets == list(arrival_offsets(config))
    assert offsets == sorted(offsets) and offsets[0] > 0 and offsets[-1] < 100.0
    assert 4700 < len(offsets) < 5300  # 5000 expected, sd ~71
