"""The runbook charts render to PNG, opaque, with their threshold lines among the artists."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg
import pandas as pd
import pytest
from matplotlib import style
from matplotlib.figure import Figure

from netra_ops.config import TriggerRule
from netra_ops.metrics import (
    empty_frame,
    error_rate_chart,
    event_latency_chart,
    latency_chart,
    make_frame,
    memory_chart,
    replay,
    rollout_chart,
    rule_states_chart,
)

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
GIB = 2**30


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def samples() -> pd.DataFrame:
    rows = []
    for s in range(60):
        for revision, leak in (("netra-00001-abc", 0), ("netra-00002-def", s * 60e6)):
            base = {"time": at(s), "source": "monitoring", "revision": revision}
            rows += [
                {**base, "metric": "memory_bytes", "value": 3.0e9 + leak},
                {**base, "metric": "http_error_rate", "value": 0.02 if s > 30 else 0.0,
                 "count": 50},
                {**base, "metric": "http_5xx_rate", "value": 0.01 if s > 30 else 0.0,
                 "count": 50},
                {**base, "metric": "latency_p50_ms", "value": 40.0 + s,
                 "response_code_class": "2xx"},
                {**base, "metric": "latency_p95_ms", "value": 300.0 + 5 * s,
                 "response_code_class": "2xx"},
                {**base, "metric": "latency_p99_ms", "value": 900.0 + 20 * s,
                 "response_code_class": "2xx"},
            ]
    return make_frame(rows)


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def assert_opaque_png(data: bytes) -> None:
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[2] == 3 or (pixels[..., 3] == 1.0).all()  # never transparent
    assert tuple(pixels[2, 2, :3]) == (1.0, 1.0, 1.0)  # an explicit white background


def thresholds(figure: Figure) -> set[str]:
    return {line.get_gid() for ax in figure.axes for line in ax.lines
            if str(line.get_gid()).startswith("threshold:")}


def test_error_rate_chart_has_the_1_and_5_percent_lines() -> None:
    figure = error_rate_chart(samples())
    assert thresholds(figure) == {"threshold:1%", "threshold:5%"}
    assert_opaque_png(png(figure))
    assert len([line for line in figure.axes[0].lines if line.get_xydata().size]) >= 4


def test_memory_chart_has_the_3_and_3_5_gib_lines_and_the_markers() -> None:
    markers = pd.DataFrame({"time": [at(10), at(40)], "kind": ["deploy", "rollback"],
                            "label": ["netra-00002-def", "netra-00001-abc"]})
    figure = memory_chart(samples(), markers=markers)
    assert thresholds(figure) == {"threshold:3 GiB average", "threshold:3.5 GiB peak"}
    gids = {line.get_gid() for line in figure.axes[0].lines}
    assert {"marker:deploy", "marker:rollback"} <= gids
    assert figure.axes[0].get_yscale() == "linear"
    assert_opaque_png(png(figure))


def test_memory_far_below_the_lines_is_drawn_on_a_log_scale() -> None:
    small = make_frame([{"time": at(s), "metric": "memory_bytes", "value": 50e6 + s * 1e6,
                         "source": "monitoring", "revision": "r"} for s in range(10)])
    figure = memory_chart(small)
    assert figure.axes[0].get_yscale() == "log"
    assert thresholds(figure) == {"threshold:3 GiB average", "threshold:3.5 GiB peak"}


def test_latency_chart_has_the_500_ms_and_2_s_lines() -> None:
    figure = latency_chart(samples())
    assert thresholds(figure) == {"threshold:500 ms", "threshold:2 s"}
    labels = {line.get_label() for line in figure.axes[0].lines}
    assert {"p50", "p95", "p99"} <= labels
    assert_opaque_png(png(figure))


def test_rule_states_chart_draws_a_band_per_state() -> None:
    data = make_frame([{"time": at(s), "metric": "m", "value": float(s), "source": "probe"}
                       for s in range(0, 20) if not 8 <= s < 11])
    rule = TriggerRule(name="climb", metric="m", comparison=">", threshold=12.0,
                       window_s=1.0, for_s=3.0)
    states = replay([rule], data, interval_s=1.0, start=at(0), end=at(19))
    figure = rule_states_chart(states)
    bands = {patch.get_gid() for patch in figure.axes[0].patches}
    assert bands == {f"state:climb:{s}" for s in ("ok", "inconclusive", "pending", "firing")}
    assert_opaque_png(png(figure))


@pytest.mark.parametrize("chart", [error_rate_chart, memory_chart, latency_chart])
def test_charts_without_data_still_show_their_thresholds(chart: object) -> None:
    figure = chart(empty_frame())  # type: ignore[operator]
    assert len(thresholds(figure)) == 2
    assert any(t.get_gid() == "no-data" for t in figure.axes[0].texts)
    assert_opaque_png(png(figure))


def test_event_latency_chart_keeps_its_budget_line() -> None:
    events = pd.DataFrame({"run": [1, 1], "event": ["agent_started", "agent_completed"],
                           "latency_ms": [12.0, None]})
    figure = event_latency_chart(events, budget_ms=500)
    assert thresholds(figure) == {"threshold:budget 500 ms"}
    assert_opaque_png(png(figure))


def test_a_dark_session_style_does_not_leak_into_the_charts() -> None:
    with style.context("dark_background"):
        figure = error_rate_chart(samples())
    axes = figure.axes[0]
    assert axes.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert axes.title.get_color() == "#1f2328"
    assert_opaque_png(png(figure))


def test_rollout_chart_draws_each_step_with_its_verdict_and_the_5xx_share() -> None:
    steps = pd.DataFrame({"percent": [10, 50], "started_at": [at(0), at(20)],
                          "ended_at": [at(20), at(40)], "decision": ["continue", "rollback"],
                          "firing_rule": [None, "health_5xx"]})
    figure = rollout_chart(steps, samples(), new_revision="netra-00002-def")
    bands = {patch.get_gid() for patch in figure.axes[0].patches}
    assert bands == {"step:10:continue", "step:50:rollback"}
    assert "traffic-back" in {line.get_gid() for line in figure.axes[0].lines}
    assert "50%: rollback (health_5xx)" in {t.get_text() for t in figure.axes[0].texts}
    assert thresholds(figure) == {"threshold:1%", "threshold:5%"}
    assert len(figure.axes[1].lines) >= 4  # 5xx of both revisions, and the lines
    assert_opaque_png(png(figure))


def test_rollout_chart_without_steps_says_so() -> None:
    figure = rollout_chart(pd.DataFrame(columns=["percent", "started_at", "ended_at",
                                                 "decision", "firing_rule"]))
    assert any(t.get_gid() == "no-data" for ax in figure.axes for t in ax.texts)
    assert_opaque_png(png(figure))
