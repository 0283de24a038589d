"""The meaning of the store's tallies: rates, means and totals."""

from __future__ import annotations

from devskyy_ws.services import stats
from devskyy_ws.store.base import Tally


def _t(
    key: tuple[str | None, ...], status: str, n: int, lat: float = 0.0, cost: float = 0.0
) -> Tally:
    return Tally(key, status, n, n if lat else 0, lat, cost)


def test_agent_totals_count_finished_and_average_the_completed_only() -> None:
    totals = stats.agent_totals(
        [_t((), "completed", 4, lat=400.0, cost=1.0), _t((), "failed", 1, lat=900.0, cost=0.5),
         _t((), "pending", 3, cost=0.25)]
    )  # fmt: skip
    assert totals == {
        "completed": 4.0,
        "failed": 1.0,
        "avg_latency_ms": 100.0,
        "total_cost_usd": 1.75,
    }
    assert stats.agent_totals([]) == {
        "completed": 0.0,
        "failed": 0.0,
        "avg_latency_ms": 0.0,
        "total_cost_usd": 0.0,
    }


def test_technique_stats_skip_unfinished_and_name_a_missing_category_general() -> None:
    found = stats.technique_stats(
        [
            _t(("react", None), "completed", 2, lat=20.0),
            _t(("react", "general"), "failed", 2, lat=60.0),
            _t(("react", "analysis"), "pending", 5),
            _t((None, "analysis"), "completed", 9),
        ]
    )
    assert found == [stats.TechniqueStat("react", "general", 4, 2, 20.0)]


def test_provider_stats_rate_the_finished_per_provider() -> None:
    found = stats.provider_stats(
        [_t(("b",), "completed", 1, lat=5.0, cost=0.1), _t(("b",), "failed", 3),
         _t((None,), "completed", 2), _t(("a",), "running", 7)]
    )  # fmt: skip
    assert found == [
        {"provider": "unknown", "uses": 2, "success_rate": 1.0, "mean_latency_ms": 0.0,
         "cost_usd": 0.0},
        {"provider": "b", "uses": 4, "success_rate": 0.25, "mean_latency_ms": 5.0,
         "cost_usd": 0.1},
    ]  # fmt: skip


def test_status_counts_and_cost_total_add_up_every_key() -> None:
    tallies = [_t(("x",), "failed", 2, cost=1.0), _t(("y",), "failed", 1, cost=2.0)]
    assert stats.status_counts(tallies) == {"failed": 3}
    assert stats.cost_total(tallies) == 3.0
