"""The families read from a store when they are scraped, not recorded as it runs:
the head, each projector's position, lag (events and seconds), parked state and rebuild
progress, the writer's queue depth, and a node's replication lag.

`/metrics` serves them beside the recorded ones (`metrics.REGISTRY`); `questlog stats`
prints them for a store file without a server. One status read per scrape
(`ProjectionManager.status`, the same rows as `questlog projections status`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import REGISTRY

if TYPE_CHECKING:
    from ..store import Store

# A node's replication lag: {"lag_positions": n | None, "lag_seconds": s | None}.
LagSource = Callable[[], dict[str, Any]]


class StoreCollector(Collector):
    """Scrape-time families of one store (and of its node's replication, when given)."""

    def __init__(self, store: Store, replication_lag: LagSource | None = None) -> None:
        self.store = store
        self.replication_lag = replication_lag

    def collect(self) -> Iterator[Metric]:
        rows = self.store.projections.status()
        head = rows[0]["head"] if rows else self.store.head_position()
        yield GaugeMetricFamily("questlog_head_position", "The log's last position.",
                                value=head)
        labels = ["projector", "mode"]
        position = GaugeMetricFamily("questlog_projector_position",
                                     "Last position the projector applied.", labels=labels)
        lag = GaugeMetricFamily("questlog_projector_lag_events",
                                "Events between the projector's position and the head.",
                                labels=labels)
        lag_s = GaugeMetricFamily("questlog_projector_lag_seconds",
                                  "Age of the oldest event the projector has not applied.",
                                  labels=labels)
        parked = GaugeMetricFamily("questlog_projector_parked",
                                   "1 while the projector is parked on an event it cannot "
                                   "apply.", labels=labels)
        rebuild = GaugeMetricFamily("questlog_projector_rebuild_position",
                                    "Position a running rebuild has reached.", labels=labels)
        for row in rows:
            key = [row["name"], row["mode"]]
            position.add_metric(key, row["position"])
            lag.add_metric(key, row["lag"])
            lag_s.add_metric(key, row["lag_seconds"])
            parked.add_metric(key, 1 if row["state"] == "parked" else 0)
            if row.get("rebuild_position") is not None:
                rebuild.add_metric(key, row["rebuild_position"])
        yield from (position, lag, lag_s, parked, rebuild)
        writer = None if self.store.read_only else self.store.ready_writer()
        if writer is not None:
            yield from writer.stats.families()
            yield GaugeMetricFamily("questlog_writer_queue_depth",
                                    "Calls and write jobs waiting for the writer.",
                                    value=writer.queue_depth())
        if self.replication_lag is not None:
            yield from _replication(self.replication_lag())


def _replication(health: dict[str, Any]) -> Iterator[Metric]:
    for key, name, text in (
            ("lag_positions", "questlog_replication_lag_events",
             "Positions the replica is behind the primary."),
            ("lag_seconds", "questlog_replication_lag_seconds",
             "Seconds the replica is behind the primary.")):
        value = health.get(key)
        if value is not None:
            yield GaugeMetricFamily(name, text, value=value)


class _Joined:
    """The process's recorded families and one store's scrape-time ones, as one registry."""

    def __init__(self, *parts: Collector | CollectorRegistry) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def exposition(store: Store, replication_lag: LagSource | None = None, *,
               recorded: bool = True) -> bytes:
    """The Prometheus text format of the store's families (and the recorded ones)."""
    collector = StoreCollector(store, replication_lag)
    parts: tuple[Collector | CollectorRegistry, ...] = (
        (REGISTRY, collector) if recorded else (collector,))
    return generate_latest(_Joined(*parts))


def recorded() -> bytes:
    """The Prometheus text format of the process's recorded families alone."""
    return generate_latest(REGISTRY)


def as_dict(store: Store) -> dict[str, Any]:
    """The store's families as {name: {type, help, samples: [{labels, value}]}}."""
    out: dict[str, Any] = {}
    for family in StoreCollector(store).collect():
        out[family.name] = {
            "type": family.type, "help": family.documentation,
            "samples": [{"labels": dict(s.labels), "value": s.value} for s in family.samples]}
    return out
