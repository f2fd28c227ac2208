"""The Grafana dashboard and the Prometheus alert rules refer only to series the engine exports.

A metric renamed in ``actors/metrics/registry.py`` (or misspelt in a panel) must fail here, not show up as
an empty panel or an alert that can never fire. Names are taken from the PromQL by tokenising it (strings,
Grafana variables, label matchers, ranges and ``by``/``on`` label lists removed; identifiers followed by
``(`` are functions or aggregations) and compared with the registry's series names, where each family is
expanded to what a query can name: ``*_total`` for counters, ``_bucket``/``_sum``/``_count`` for histograms.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: installed with apprise

from actors.clock import SimClock
from actors.metrics.registry import Metrics

DOCS = Path(__file__).resolve().parents[1] / "docs" / "grafana"
DASHBOARD = DOCS / "dashboard.json"
ALERTS = DOCS / "alerts.yml"

# Series Prometheus itself provides.
EXTERNAL = frozenset({"up"})
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                      "offset", "inf", "nan"})
SEVERITIES = frozenset({"P0", "P1", "P2"})  # the engine's alert priorities (Notify.level)
RUNBOOK = re.compile(r"^docs/operations\.md#[a-z0-9]+(-[a-z0-9]+)*$")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_IDENT = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects."""
    e = _STRING.sub('""', expr)
    e = _GRAFANA_VAR.sub(" ", e)
    e = _MATCHERS.sub(" ", e)
    e = _RANGE.sub(" ", e)
    e = _LABEL_LIST.sub(" ", e)
    names: set[str] = set()
    for m in _IDENT.finditer(e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group().lower() in KEYWORDS:
            continue  # a function, an aggregation, or a keyword (PromQL's are case-insensitive)
        names.add(m.group())
    return names


def variable_names(query: str) -> set[str]:
    """A Grafana template query: ``label_values(metric{...}, label)``, ``label_values(label)``,
    ``query_result(promql)`` or plain PromQL."""
    m = _LABEL_VALUES.match(query)
    if m:
        args = m.group(1)
        metric, sep, _label = args.rpartition(",")
        return metric_names(metric) if sep else set()
    m = _QUERY_RESULT.match(query)
    return metric_names(m.group(1) if m else query)


def dashboard_exprs(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target (rows' nested panels included) and template variable."""
    out: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p.get('title')!r} {t.get('refId')}", t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            out.append((f"variable {v['name']}", f"label_values_query:{q}"))
    return out


def names_in(where_exprs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """metric name → where it is used."""
    used: dict[str, set[str]] = {}
    for where, expr in where_exprs:
        if expr.startswith("label_values_query:"):
            names = variable_names(expr.removeprefix("label_values_query:"))
        else:
            names = metric_names(expr)
        for n in names:
            used.setdefault(n, set()).add(where)
    return used


def alert_rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def unknown(used: dict[str, set[str]], exported: frozenset[str]) -> dict[str, set[str]]:
    return {n: w for n, w in used.items() if n not in exported and n not in EXTERNAL}


@pytest.fixture(scope="module")
def exported() -> frozenset[str]:
    return Metrics(SimClock()).series_names()


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def alerts() -> dict[str, Any]:
    return yaml.safe_load(ALERTS.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- the tokeniser


@pytest.mark.parametrize(("expr", "names"), [
    ("mm_position", {"mm_position"}),
    ('mm_position{symbol=~"$symbol", exchange=~"$exchange"}', {"mm_position"}),
    ("sum by (symbol) (rate(mm_fills_total{side=\"BUY\"}[$__rate_interval]))", {"mm_fills_total"}),
    ("sum(rate(mm_fills_total[5m])) by (symbol, le) / sum without (side) (rate(mm_orders_placed_total[5m]))",
     {"mm_fills_total", "mm_orders_placed_total"}),
    ("histogram_quantile(0.99, sum by (le, symbol) (rate(mm_tick_to_order_seconds_bucket{a=\"x(y)\"}[10m])))",
     {"mm_tick_to_order_seconds_bucket"}),
    ("a_total / on (symbol, exchange) group_left(kind) b_total > bool 1e-9", {"a_total", "b_total"}),
    ("max_over_time(mm_rate_limit_used_ratio[2m:30s] offset 5m) > 0.8 and up == 0",
     {"mm_rate_limit_used_ratio", "up"}),
    ("-mm_adaptive_netmax{symbol=~\"${symbol:regex}\"}", {"mm_adaptive_netmax"}),
    ("count_values(\"version\", mm_build_info) unless absent(mm_config_version)", {"mm_build_info",
                                                                                    "mm_config_version"}),
    ("clamp_min(sum by (s) (x_total), 1e-9) + Inf", {"x_total"}),
    ("SUM BY (symbol) (X_total) AND ON (symbol) y", {"X_total", "y"}),
])
def test_metric_names_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_template_queries() -> None:
    assert variable_names("label_values(mm_position, symbol)") == {"mm_position"}
    assert variable_names('label_values(mm_position{symbol=~"$symbol"}, exchange)') == {"mm_position"}
    assert variable_names("label_values(symbol)") == set()
    assert variable_names("query_result(topk(3, mm_fees))") == {"mm_fees"}


def test_a_typo_is_caught(dashboard: dict[str, Any], alerts: dict[str, Any], exported: frozenset[str]) -> None:
    """The checks below would fail on a misspelt or renamed metric, in a panel and in a rule."""
    dash = json.loads(json.dumps(dashboard).replace("mm_tick_to_order_seconds_bucket", "mm_tick_to_order_bucket"))
    assert set(unknown(names_in(dashboard_exprs(dash)), exported)) == {"mm_tick_to_order_bucket"}
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8").replace("mm_fills_total", "mm_fills"))
    assert set(unknown(names_in([(r["alert"], r["expr"]) for r in alert_rules(doc)]), exported)) == {"mm_fills"}
    # a family's base name is not a series either: histograms are queried by their suffixes
    assert unknown({"mm_ws_lag_seconds": {"x"}, "mm_ws_lag_seconds_count": {"x"}}, exported) == {
        "mm_ws_lag_seconds": {"x"}}


# ---------------------------------------------------------------------------------------------- the dashboard


def test_dashboard_refers_only_to_exported_series(dashboard: dict[str, Any], exported: frozenset[str]) -> None:
    used = names_in(dashboard_exprs(dashboard))
    assert len(used) >= 30
    assert unknown(used, exported) == {}


def test_dashboard_shows_every_exported_family(dashboard: dict[str, Any], exported: frozenset[str]) -> None:
    used = set(names_in(dashboard_exprs(dashboard)))
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    assert families - shown == set()


def test_dashboard_shape(dashboard: dict[str, Any]) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    sym = variables["symbol"]["query"]
    assert (sym["query"] if isinstance(sym, dict) else sym) == "label_values(mm_position, symbol)"
    rows = [p["title"].lower() for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["trading", "latency", "orders", "risk", "strategy"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for p in dashboard["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}"
            assert _balanced(t["expr"]), (p["title"], t["expr"])
            if "symbol" in t["expr"] and "mm_" in t["expr"]:
                assert '$symbol' in t["expr"], (p["title"], t["expr"])  # per-symbol panels follow the variable


# ---------------------------------------------------------------------------------------------- the alert rules


def test_alerts_refer_only_to_exported_series(alerts: dict[str, Any], exported: frozenset[str]) -> None:
    used = names_in([(r["alert"], r["expr"]) for r in alert_rules(alerts)])
    assert unknown(used, exported) == {}


def test_every_alert_has_severity_runbook_and_summary(alerts: dict[str, Any]) -> None:
    rules = alert_rules(alerts)
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for r in rules:
        assert r["labels"]["severity"] in SEVERITIES, r["alert"]
        assert RUNBOOK.match(r["annotations"]["runbook"]), r["alert"]
        assert r["annotations"]["summary"].strip(), r["alert"]
        assert _balanced(r["expr"]), r["alert"]
        if "for" in r:
            assert re.fullmatch(r"\d+[smh]", r["for"]), r["alert"]
    runbooks = [r["annotations"]["runbook"] for r in rules]
    assert len(runbooks) == len(set(runbooks))  # one runbook entry per alert


def test_the_alerts_the_issue_asks_for(alerts: dict[str, Any]) -> None:
    by_name = {r["alert"]: r for r in alert_rules(alerts)}
    wanted = {"MMTradingHalted": "P0", "MMNoFillsWhileActive": "P1", "MMRejectRateHigh": "P1",
              "MMTickToOrderSlow": "P2", "MMWebSocketDisconnected": "P1", "MMRateLimitBudgetHigh": "P1",
              "MMActorRestarts": "P1", "MMScrapeDown": "P0"}
    assert {n: by_name[n]["labels"]["severity"] for n in wanted} == wanted
    assert "== 2" in by_name["MMTradingHalted"]["expr"]  # HALTED (0 ACTIVE, 1 REDUCING, 2 HALTED)
    assert "> 0.8" in by_name["MMRateLimitBudgetHigh"]["expr"]
    assert "up{" in by_name["MMScrapeDown"]["expr"] and "== 0" in by_name["MMScrapeDown"]["expr"]


def _balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in _STRING.sub('""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack
