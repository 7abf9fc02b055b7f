"""Memory-leak detection on constructed series: what is a leak, what is not, what cannot be
told yet, and whether the stated bounds hold the true growth as often as they say."""

from __future__ import annotations

import io
from datetime import timedelta

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from netra_ops.config import load_environment
from netra_ops.errors import ConfigError
from netra_ops.metrics import empty_frame, make_frame
from netra_ops.metrics.leak import (
    DEFAULT_THRESHOLD_BYTES,
    LEAK_COLUMNS,
    detect_leaks,
    fit_memory_growth,
    leak_threshold,
    t_quantile,
)
from netra_ops.metrics.leak_chart import leak_chart

MIB = 2**20
GIB = 2**30
T0 = pd.Timestamp("2025-01-31 12:00", tz="UTC")


def series(values: np.ndarray, step_s: float = 60.0, name: str = "rev") -> pd.Series:
    """Bytes sampled every `step_s` (Cloud Run's 60 s by default) from T0."""
    index = T0 + pd.to_timedelta(np.arange(len(values)) * step_s, unit="s")
    return pd.Series(values, index=index, name=name)


def linear(per_hour: float, n: int = 360, base: float = 1 * GIB, noise: float = 2 * MIB,
           seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return base + per_hour / 60 * np.arange(n) + rng.normal(0, noise, n)


def sawtooth(n: int, base: float = 1 * GIB, rise: float = 50 * MIB, period: int = 10,
             noise: float = 0.3 * MIB, seed: int = 0) -> np.ndarray:
    """Rises `rise` over `period` samples, then the GC drops it back; repeated."""
    rng = np.random.default_rng(seed)
    phase = np.arange(n) % period
    return base + phase * rise / (period - 1) + rng.normal(0, noise, n)


def one(table: pd.DataFrame) -> dict[str, object]:
    assert len(table) == 1, table
    row: dict[str, object] = table.iloc[0].to_dict()
    return row


def test_t_quantiles_match_the_tables() -> None:
    for level, df, expected in ((0.95, 1, 6.314), (0.99, 2, 6.965), (0.99, 3, 4.541),
                                (0.975, 5, 2.571), (0.9, 7, 1.415), (0.99, 10, 2.764),
                                (0.975, 30, 2.042), (0.99, 120, 2.358), (0.99, 1000, 2.330)):
        assert t_quantile(level, df) == pytest.approx(expected, abs=1.5e-3), (level, df)


def test_linear_growth_that_reaches_the_threshold_is_a_leak() -> None:
    row = one(detect_leaks(series(linear(200 * MIB))))
    assert row["verdict"] == "leak"
    assert row["floor"] == "samples" and row["gc_drops"] == 0
    assert row["slope_low_bytes_per_h"] < 200 * MIB < row["slope_high_bytes_per_h"]
    assert row["slope_bytes_per_s"] == pytest.approx(row["slope_bytes_per_h"] / 3600)
    # 1 GiB + 6 h x 200 MiB/h = 2.17 GiB; 3.5 GiB is 6.8 h after the last sample
    left = (row["projected_cross_at"] - row["last_sample_at"]) / pd.Timedelta(hours=1)
    assert left == pytest.approx((3.5 * GIB - 1 * GIB) / (200 * MIB) - 6, rel=0.02)
    assert "within the 24 h horizon" in str(row["reason"])


def test_flat_noisy_memory_is_no_leak() -> None:
    row = one(detect_leaks(series(linear(0.0, noise=8 * MIB, seed=3))))
    assert row["verdict"] == "no leak"
    assert row["slope_low_bytes_per_h"] < 0 < row["slope_high_bytes_per_h"]
    assert "no growth that matters" in str(row["reason"])


def test_a_gc_sawtooth_is_no_leak_its_troughs_are_the_floor() -> None:
    row = one(detect_leaks(series(sawtooth(360))))
    assert row["verdict"] == "no leak", row["reason"]
    assert row["floor"] == "troughs" and row["gc_drops"] == 35 and row["floor_points"] == 35
    assert abs(row["slope_bytes_per_h"]) < 1 * MIB


def test_the_troughs_tell_a_sawtooth_near_the_threshold_from_growth() -> None:
    """Near the threshold, the peaks' ups and downs hide the floor: every sample as a floor
    point cannot rule out a leak; the troughs can."""
    values = series(sawtooth(59, base=3.3 * GIB, seed=7))
    assert one(detect_leaks(values))["verdict"] == "no leak"
    assert one(detect_leaks(values, floor_window_s=0))["verdict"] == "inconclusive"
    windows = one(detect_leaks(values, floor_window_s=11 * 60))
    assert windows["floor"] == "windows" and windows["floor_points"] == 5
    assert windows["verdict"] == "no leak"


def test_a_sawtooth_on_a_rising_floor_is_a_leak() -> None:
    values = sawtooth(360) + 150 * MIB / 60 * np.arange(360)
    row = one(detect_leaks(series(values)))
    assert row["verdict"] == "leak" and row["floor"] == "troughs"
    assert row["slope_low_bytes_per_h"] < 150 * MIB < row["slope_high_bytes_per_h"]


def test_memory_given_back_after_load_is_not_a_leak_on_one_drop() -> None:
    during = 1 * GIB + np.linspace(0, 50 * MIB, 20)  # load: rises
    after = np.full(6, 1 * GIB + 0.2 * MIB)          # after load: given back
    row = one(detect_leaks(series(np.concatenate([during, after]), step_s=1.0)))
    assert row["verdict"] == "inconclusive"
    assert row["gc_drops"] == 1 and "drops back" in str(row["reason"])


def test_one_warm_up_step_then_flat_is_no_leak_four_steps_are_growth() -> None:
    """A fresh sandbox revision under a 5 s load, sampled every second: +1.5 MiB in one
    second, then flat within 4 KiB for 17 s (fitted as a line: 194 MiB/h, a 'leak')."""
    flat = np.full(21, 49.543 * MIB)
    flat[3:] = 51.074 * MIB
    flat[4:] += 4096
    row = one(detect_leaks(series(flat, step_s=1.0)))
    assert row["verdict"] == "no leak", row["reason"]
    assert row["level_shifts"] == 1 and row["level_shift_bytes"] > 1.5 * MIB
    assert "one-time rise" in str(row["reason"])
    stairs = 100 * MIB + np.repeat(np.arange(5) * 40 * MIB, 5)  # +40 MiB every 5 s, 4 times
    row = one(detect_leaks(series(stairs, step_s=1.0)))
    assert row["verdict"] == "leak" and row["level_shifts"] == 0, row["reason"]


def test_growth_too_slow_to_cross_within_the_horizon_is_no_leak_and_says_so() -> None:
    values = series(linear(20 * MIB))  # 1 GiB + 120 MiB; 3.5 GiB in ~5 days
    row = one(detect_leaks(values, horizon=timedelta(hours=24)))
    assert row["verdict"] == "no leak"
    assert row["slope_low_bytes_per_h"] > 0
    reason = str(row["reason"])
    assert "too slowly" in reason and "beyond the 24 h horizon" in reason
    assert one(detect_leaks(values, horizon=timedelta(days=7)))["verdict"] == "leak"
    # a lower threshold: 2 GiB is 45 h away
    assert one(detect_leaks(values, 2 * GIB, horizon=48 * 3600))["verdict"] == "leak"
    assert one(detect_leaks(values, 2 * GIB, horizon=42 * 3600))["verdict"] == "no leak"


def test_too_few_samples_or_troughs_are_inconclusive() -> None:
    row = one(detect_leaks(series(linear(500 * MIB, n=6))))
    assert row["verdict"] == "inconclusive" and "only 6 memory sample(s)" in str(row["reason"])
    assert one(detect_leaks(series(linear(500 * MIB, n=6)), min_samples=5))["verdict"] == "leak"
    saw = one(detect_leaks(series(sawtooth(25))))
    assert saw["verdict"] == "inconclusive" and saw["floor_points"] == 2
    assert "watch for at least 4 drops" in str(saw["reason"])


def test_growth_neither_clear_nor_ruled_out_is_inconclusive() -> None:
    row = one(detect_leaks(series(linear(0.0, n=12, base=3.3 * GIB, noise=30 * MIB))))
    assert row["verdict"] == "inconclusive"
    assert "cannot be ruled out" in str(row["reason"])


def test_above_the_threshold_already() -> None:
    rising = one(detect_leaks(series(linear(10 * MIB, n=60, base=3.6 * GIB, noise=0.1 * MIB))))
    assert rising["verdict"] == "leak" and "already above" in str(rising["reason"])
    assert rising["projected_cross_at"] == T0
    falling = one(detect_leaks(series(linear(-10 * MIB, n=60, base=3.6 * GIB, noise=0.1 * MIB))))
    assert falling["verdict"] == "no leak" and pd.isna(falling["projected_cross_at"])


@pytest.mark.parametrize("shape", ["linear", "sawtooth"])
def test_the_bounds_hold_the_true_slope_as_often_as_stated(shape: str) -> None:
    """Each one-sided 90 % bound misses the true slope in ~10 % of 300 seeded series
    (binomial: 30 +- 5.2; the band is 3.5 standard deviations)."""
    true = 50 * MIB / 3600
    too_high = too_low = 0
    for seed in range(300):
        if shape == "linear":
            values = linear(50 * MIB, n=120, noise=5 * MIB, seed=seed)
        else:
            values = sawtooth(120, noise=1 * MIB, seed=seed) + true * 60 * np.arange(120)
        fit = fit_memory_growth(series(values), confidence=0.9)["rev"]
        assert fit.slope_low is not None and fit.slope_high is not None
        too_high += fit.slope_low > true
        too_low += fit.slope_high < true
    assert fit.floor_method == ("samples" if shape == "linear" else "troughs")
    assert 12 <= too_high <= 48 and 12 <= too_low <= 48, (too_high, too_low)


def test_a_frame_gives_one_row_per_revision() -> None:
    rows = []
    for i, (leaking, healthy) in enumerate(zip(linear(300 * MIB, n=90),
                                               sawtooth(90, seed=2), strict=True)):
        time = T0 + pd.Timedelta(minutes=i)
        rows += [{"time": time, "metric": "memory_bytes", "value": leaking,
                  "source": "monitoring", "revision": "netra-00002-bad"},
                 {"time": time, "metric": "memory_bytes", "value": healthy,
                  "source": "monitoring", "revision": "netra-00003-fix"},
                 {"time": time, "metric": "cpu_utilization", "value": 0.5,
                  "source": "monitoring", "revision": "netra-00002-bad"}]
    table = detect_leaks(make_frame(rows), horizon=24 * 3600)
    assert list(table.columns) == LEAK_COLUMNS
    verdicts = dict(zip(table["revision"], table["verdict"], strict=True))
    assert verdicts == {"netra-00002-bad": "leak", "netra-00003-fix": "no leak"}
    assert set(table["samples"]) == {90}


def test_samples_without_a_revision_label_are_one_series() -> None:
    frame = make_frame({"time": T0 + pd.Timedelta(minutes=i), "metric": "memory_bytes",
                        "value": value, "source": "monitoring"}
                       for i, value in enumerate(linear(300 * MIB, n=30)))
    row = one(detect_leaks(frame))
    assert row["revision"] is None and row["samples"] == 30 and row["verdict"] == "leak"


def test_no_memory_samples_is_inconclusive() -> None:
    row = one(detect_leaks(empty_frame()))
    assert row["verdict"] == "inconclusive" and row["revision"] is None
    assert "no memory_bytes samples" in str(row["reason"])


def test_the_threshold_comes_from_the_memory_high_trigger() -> None:
    env = load_environment("sandbox")
    assert leak_threshold(env) == 3758096384 == DEFAULT_THRESHOLD_BYTES
    lower = [r.model_copy(update={"threshold": 2 * GIB}) if r.name == "memory_high" else r
             for r in env.rollback_triggers]
    assert leak_threshold(env.model_copy(update={"rollback_triggers": lower})) == 2 * GIB
    bare = env.model_copy(update={"rollback_triggers": []})
    assert leak_threshold(bare) == DEFAULT_THRESHOLD_BYTES


def test_bad_parameters_say_what_is_wrong() -> None:
    values = series(linear(0.0, n=20))
    with pytest.raises(ConfigError, match="confidence"):
        detect_leaks(values, confidence=1.5)
    with pytest.raises(ConfigError, match="horizon"):
        detect_leaks(values, horizon=0)
    with pytest.raises(ConfigError, match="DatetimeIndex"):
        fit_memory_growth(pd.Series([1.0, 2.0, 3.0]))


def gids(figure: Figure) -> set[str]:
    return {str(a.get_gid()) for ax in figure.axes for a in [*ax.lines, *ax.collections]
            if a.get_gid()}


def test_the_leak_chart_shows_floor_fit_projection_and_threshold() -> None:
    rows = [{"time": T0 + pd.Timedelta(seconds=s), "metric": "memory_bytes", "value": value,
             "source": "monitoring", "revision": revision}
            for revision, values in (("leaking", linear(2 * MIB * 60, n=20, base=60 * MIB,
                                                        noise=0.2 * MIB)),  # 2 MiB/s
                                     ("healthy", sawtooth(40, base=50 * MIB, period=5)))
            for s, value in enumerate(values)]
    frame = make_frame(rows)
    table = detect_leaks(frame)
    assert dict(zip(table["revision"], table["verdict"], strict=True)) == {
        "healthy": "no leak", "leaking": "leak"}
    figure = leak_chart(frame, table)
    found = gids(figure)
    assert "threshold:3.5 GiB" in found
    for revision in ("leaking", "healthy"):
        assert {f"memory:{revision}", f"floor:{revision}", f"fit:{revision}",
                f"projection:{revision}", f"band:{revision}"} <= found
    assert "cross:leaking" in found and "cross:healthy" not in found
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pixels = mpimg.imread(io.BytesIO(buffer.getvalue()), format="png")
    assert pixels.shape[2] == 3 or (pixels[..., 3] == 1.0).all()
    assert tuple(pixels[2, 2, :3]) == (1.0, 1.0, 1.0)


def test_the_leak_chart_without_data_says_so() -> None:
    figure = leak_chart(empty_frame(), detect_leaks(empty_frame()))
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert any(text.startswith("no data") for text in texts)
    assert "threshold:3.5 GiB" in gids(figure)
