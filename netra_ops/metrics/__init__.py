"""Metrics: samples as long frames, rollback triggers and success criteria judged on them,
and the charts that show them.

    readings = read_window(env, start, end)              # Monitoring, Logging (+ probes)
    frame, unavailable = combine_readings(readings)
    table = evaluate_rules(env.rollback_triggers, frame, unavailable=unavailable)
    decide(table)                                       # rollback / hold / continue
    criteria_table(env, frame)                          # pass / fail / no data
    result = run_watch(env, duration_s=30, interval_s=5)  # live, then result.decision
    table, frame = memory_leaks(env, start, end)  # leak / no leak / inconclusive per revision
"""

from netra_ops.metrics.charts import (
    STATE_COLOURS,
    error_rate_chart,
    event_latency_chart,
    latency_chart,
    memory_chart,
    rule_states_chart,
)
from netra_ops.metrics.criteria import (
    SUMMARIES,
    Summary,
    criteria_checks,
    criteria_figures,
    criteria_table,
    criteria_values,
    evaluate_criteria,
)
from netra_ops.metrics.decision import (
    ACTIONS,
    PLAYBOOK_DECISIONS,
    Decision,
    decide,
    decision_text,
    first_rollback,
    playbook_decision,
)
from netra_ops.metrics.frames import (
    METRIC_SOURCES,
    REVISION_SOURCES,
    SOURCES,
    Reading,
    combine_readings,
    empty_frame,
    make_frame,
    normalize_frame,
    select_series,
)
from netra_ops.metrics.leak import (
    DEFAULT_HORIZON,
    DEFAULT_THRESHOLD_BYTES,
    LEAK_COLUMNS,
    VERDICTS,
    GrowthFit,
    detect_leaks,
    fit_memory_growth,
    leak_threshold,
    memory_leaks,
)
from netra_ops.metrics.leak_chart import leak_chart
from netra_ops.metrics.live import (
    LiveTable,
    rules_view,
    state_style,
    styled_rules,
    triggers_frame,
)
from netra_ops.metrics.log_metrics import error_entries, logging_reading
from netra_ops.metrics.logs import log_entries
from netra_ops.metrics.monitoring import memory_limits, monitoring_reading
from netra_ops.metrics.overrides import override_rules, overrides_note, revision_rules
from netra_ops.metrics.probes import probe_frame
from netra_ops.metrics.rollout_chart import STEP_COLOURS, rollout_chart
from netra_ops.metrics.rules import (
    STATES,
    RuleEvaluator,
    RuleResult,
    aggregate,
    evaluate_rules,
    replay,
    rules_frame,
)
from netra_ops.metrics.sources import change_markers, read_window
from netra_ops.metrics.validation import (
    VALIDATION_CRITERIA,
    delivery_table,
    last_answer,
    validation_checks,
    validation_figures,
    validation_runs,
)
from netra_ops.metrics.watching import (
    WatchResult,
    WatchTick,
    default_probe,
    run_watch,
    watch,
    watch_error_entries,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_HORIZON",
    "DEFAULT_THRESHOLD_BYTES",
    "LEAK_COLUMNS",
    "METRIC_SOURCES",
    "PLAYBOOK_DECISIONS",
    "REVISION_SOURCES",
    "SOURCES",
    "STATES",
    "STATE_COLOURS",
    "STEP_COLOURS",
    "SUMMARIES",
    "VALIDATION_CRITERIA",
    "VERDICTS",
    "Decision",
    "GrowthFit",
    "LiveTable",
    "Reading",
    "RuleEvaluator",
    "RuleResult",
    "Summary",
    "WatchResult",
    "WatchTick",
    "aggregate",
    "change_markers",
    "combine_readings",
    "criteria_checks",
    "criteria_figures",
    "criteria_table",
    "criteria_values",
    "decide",
    "decision_text",
    "default_probe",
    "delivery_table",
    "detect_leaks",
    "empty_frame",
    "error_entries",
    "error_rate_chart",
    "evaluate_criteria",
    "evaluate_rules",
    "event_latency_chart",
    "first_rollback",
    "fit_memory_growth",
    "last_answer",
    "latency_chart",
    "leak_chart",
    "leak_threshold",
    "log_entries",
    "logging_reading",
    "make_frame",
    "memory_chart",
    "memory_leaks",
    "memory_limits",
    "monitoring_reading",
    "normalize_frame",
    "override_rules",
    "overrides_note",
    "playbook_decision",
    "probe_frame",
    "read_window",
    "replay",
    "revision_rules",
    "rollout_chart",
    "rule_states_chart",
    "rules_frame",
    "rules_view",
    "run_watch",
    "select_series",
    "state_style",
    "styled_rules",
    "triggers_frame",
    "validation_checks",
    "validation_figures",
    "validation_runs",
    "watch",
    "watch_error_entries",
]
