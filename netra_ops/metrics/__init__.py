"""Metrics: measured values judged against the environment's criteria, and their charts."""

from netra_ops.metrics.charts import event_latency_chart
from netra_ops.metrics.criteria import evaluate_criteria

__all__ = ["evaluate_criteria", "event_latency_chart"]
