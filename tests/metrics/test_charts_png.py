"""The runbook charts render to PNG, opaque, with their threshold lines among the artists;
drawn by Agg, their labels do not overlap, their axes are labelled and suit the data."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure

from netra_ops.config import TriggerRule
from netra_ops.load.charts import load_errors_chart
from netra_ops.metrics import (
    detect_leaks,
    empty_frame,
    error_rate_chart,
    event_latency_chart,
    latency_chart,
    leak_chart,
    make_frame,
    memory_chart,
    replay,
    rollout_chart,
    rule_states_chart,
)

T0 = datetime(2025, 1, 31, 12, 0, 0, tzinfo=UTC)
GIB = 2**30
MIB = 2**20


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


def assert_opaque_png(data: bytes, min_bytes: int = 10_000) -> None:
    assert data.startswith(b"\x89PNG") and len(data) > min_bytes
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


# The charts as images: laid out and drawn by Agg, then read back from the figure.

def drawn(figure: Figure) -> RendererAgg:
    """Draw the figure with Agg, as savefig does, and return the renderer it used."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def close_markers() -> pd.DataFrame:
    """A deploy, a rollback and a redeploy within 2 s on a 60 s chart, long labels."""
    return pd.DataFrame({"time": [at(20), at(21), at(22)],
                         "kind": ["deploy", "rollback", "deploy"],
                         "label": ["netra-backend-staging-00002-def",
                                   "netra-backend-staging-00001-abc",
                                   "netra-backend-staging-00003-ghi"]})


@pytest.mark.parametrize("chart", [error_rate_chart, memory_chart, latency_chart])
@pytest.mark.parametrize("when", [(20, 21, 22), (0.5, 1, 59)])
def test_marker_labels_never_overlap_and_stay_inside_the_axes(
        chart: object, when: tuple[float, ...]) -> None:
    markers = close_markers().assign(time=[at(s) for s in when])
    figure = chart(samples(), markers=markers)  # type: ignore[operator]
    renderer = drawn(figure)
    axes = figure.axes[0]
    labels = [t for t in axes.texts if str(t.get_gid()).startswith("label:")]
    assert len(labels) == 3
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1:]), \
            [t.get_text() for t in labels]
    frame = axes.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 for b in boxes)
    assert_opaque_png(png(figure))


def visible_tick_labels(axes: Axes, renderer: RendererAgg) -> list[str]:
    low, high = sorted(axes.get_ylim())
    return [t.label1.get_text() for t in axes.yaxis.get_major_ticks()
            if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()]


def test_leak_chart_labels_its_byte_axes_even_for_a_flat_line() -> None:
    flat = make_frame([{"time": at(s), "metric": "memory_bytes", "value": 53_940_224.0,
                        "source": "monitoring", "revision": "r"} for s in range(13)])
    figure = leak_chart(flat, detect_leaks(flat, 3.5 * GIB, timedelta(hours=24)))
    renderer = drawn(figure)
    observed, projected = figure.axes
    for axes in (observed, projected):
        labels = visible_tick_labels(axes, renderer)
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
        assert all(label == "0" or label.endswith(("MiB", "GiB")) for label in labels)
    low, high = observed.get_ylim()
    assert low < 53_940_224 < high and high - low < 16 * MIB  # the line, not squashed
    assert_opaque_png(png(figure))


def test_byte_tick_labels_keep_the_digits_their_step_needs() -> None:
    rows = make_frame([{"time": at(s), "metric": "memory_bytes", "value": 3 * GIB + s * MIB,
                        "source": "monitoring", "revision": "r"} for s in range(4)])
    figure = leak_chart(rows, detect_leaks(rows, 3.5 * GIB, timedelta(hours=24)))
    labels = visible_tick_labels(figure.axes[0], drawn(figure))
    assert len(set(labels)) == len(labels) >= 3, labels  # never "3 GiB" twice


def test_no_failed_turn_is_said_in_words_not_drawn_as_empty_axes() -> None:
    turns = pd.DataFrame({"ok": [True] * 40, "error_class": [None] * 40,
                          "ended_at": [at(s / 4) for s in range(40)]})
    figure = load_errors_chart(turns)
    drawn(figure)
    assert all(not axes.axison for axes in figure.axes)  # no time axis, no count axis
    notes = [t.get_text() for axes in figure.axes for t in axes.texts]
    assert notes == ["No errors: all 40 turns ok."]
    assert_opaque_png(png(figure), min_bytes=1000)


def test_an_error_chart_still_draws_the_failed_turns() -> None:
    turns = pd.DataFrame({"ok": [True, False, False], "error_class": [None, "timeout", None],
                          "ended_at": [at(0), at(1), at(2)]})
    figure = load_errors_chart(turns)
    assert {p.get_gid() for p in figure.axes[0].patches} == {"errors:timeout", "errors:other"}


def point_spread(axes: Axes) -> float:
    """How much of the axes' height the plotted points span (0 to 1)."""
    ys = np.concatenate([c.get_offsets()[:, 1] for c in axes.collections])
    fractions = axes.transAxes.inverted().transform(
        axes.transData.transform(np.column_stack([np.zeros_like(ys), ys])))[:, 1]
    return float(fractions.max() - fractions.min())


EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed",
          "agent_completed"]


@pytest.mark.parametrize(("column", "values"), [
    ("delivery_ms", [-0.93, -0.53, -0.43, -0.41, -0.63, 1.46, 1.58, 1.51, 1.54, 1.62]),
    ("latency_ms", [0.7, 2.0, 5.5, 9.0, 24.0, 0.8, 2.2, 6.0, 9.5, 25.0]),
])
def test_event_latency_far_below_the_budget_spreads_its_points(
        column: str, values: list[float]) -> None:
    events = pd.DataFrame({"run": [1] * 5 + [2] * 5, "event": EVENTS * 2,
                           "latency_ms": [abs(v) + 1 for v in values], column: values})
    figure = event_latency_chart(events, budget_ms=500, column=column)
    renderer = drawn(figure)
    axes = figure.axes[0]
    assert point_spread(axes) >= 0.3  # on a linear 0-575 ms axis: under 0.01
    low, high = axes.get_ylim()
    assert low <= min(values) and max(values) <= high and low < 500 < high  # budget shown
    assert len(visible_tick_labels(axes, renderer)) >= 3
    assert "log scale" in axes.get_ylabel()


def test_event_latency_near_the_budget_stays_linear_from_zero() -> None:
    events = pd.DataFrame({"run": [1] * 5, "event": EVENTS,
                           "latency_ms": [120.0, 240.0, 380.0, 450.0, 610.0]})
    figure = event_latency_chart(events, budget_ms=500)
    axes = figure.axes[0]
    assert axes.get_yscale() == "linear" and axes.get_ylim()[0] == 0
    assert point_spread(axes) >= 0.5
