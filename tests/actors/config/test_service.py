"""The config service on a real settings file and a real SQLite store: versions, diffs, audit, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.clock import SimClock
from actors.config.messages import SettingsChanged
from actors.config.service import Applied, ConfigService, Rejected, Unchanged
from actors.settings import Settings, SettingsError, load_settings
from actors.store import Store

BASE = """\
[store]
path = "{db}"

[strategy]
min_spread_bps = 10.0   # the spread
base_size = "0.01"

[risk]
max_inventory = "0.1"

[exchange]
recv_window_ms = 5000
"""


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "settings.toml"
    write(p, BASE.format(db=tmp_path / "mm.db"))
    return p


def start(cfg: Path, clock: SimClock | None = None, **kw: object) -> ConfigService:
    with Store.open(cfg.parent / "mm.db") as st:  # the engine records its run first (config rows refer to it)
        st.start_run("run-1", at_ns=1)
    svc = ConfigService(cfg, load_settings(cfg), clock or SimClock(), run_id="run-1", **kw)  # type: ignore[arg-type]
    svc.record_start()
    return svc


def db(cfg: Path) -> Store:
    return Store.open_readonly(cfg.parent / "mm.db")


def edit(cfg: Path, old: str, new: str) -> None:
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    write(cfg, text.replace(old, new))


def test_start_records_v1_with_the_whole_config_and_an_audit_row(cfg: Path) -> None:
    clock = SimClock()
    with start(cfg, clock) as svc:  # no store_path: [store] path of the settings themselves
        assert svc.version == 1
    with db(cfg) as st:
        [v1] = st.config_versions()
        assert (v1.version, v1.applied_by, json.loads(v1.diff), v1.run_id) == (1, "start", {}, "run-1")
        config = json.loads(v1.config or "null")
        assert config["strategy"]["min_spread_bps"] == "10.0" and config["risk"]["max_inventory"] == "0.1"
        [audit] = st.audit()
        assert (audit.who, audit.action, audit.at_ns) == ("start", "config_applied", clock.time_ns())
        assert json.loads(audit.detail)["version"] == 1


def test_an_edited_spread_applies_as_v2_with_its_diff_and_an_audit_row(cfg: Path) -> None:
    clock = SimClock()
    with start(cfg, clock) as svc:
        clock.advance(1_000_000_000)
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 12.5")
        res = svc.reload("sighup")
        assert isinstance(res, Applied)
        assert res.version == 2 == svc.version
        assert res.diff == {"strategy.min_spread_bps": ("10.0", "12.5")}
        assert svc.current.strategy.min_spread_bps == 12.5 and res.settings is svc.current
        assert res.text == "config v2 applied by sighup: [strategy] min_spread_bps: 10.0 → 12.5"
        msg = res.message()
        assert msg == SettingsChanged(svc.current, 2, clock.time_ns(), frozenset({"strategy.min_spread_bps"}))
        assert msg.touches("strategy") and not msg.touches("risk", "oms")
    with db(cfg) as st:
        _, v2 = st.config_versions()
        assert (v2.version, v2.applied_by, v2.at_ns) == (2, "sighup", clock.time_ns())
        assert json.loads(v2.diff) == {"strategy.min_spread_bps": ["10.0", "12.5"]}
        assert json.loads(v2.config or "null")["strategy"]["min_spread_bps"] == "12.5"
        applied = [a for a in st.audit() if a.action == "config_applied"]
        assert [a.who for a in applied] == ["start", "sighup"]
        detail = json.loads(applied[1].detail)
        assert (detail["version"], detail["previous"]) == (2, 1)
        assert detail["diff"] == {"strategy.min_spread_bps": ["10.0", "12.5"]}


@pytest.mark.parametrize(("old", "new", "expect"), [
    ("min_spread_bps = 10.0", "min_spread_bps = = 12", "not valid TOML"),
    ("min_spread_bps = 10.0", "min_spread_bps = -1", "[strategy] min_spread_bps: must be > 0, got -1"),
    ('max_inventory = "0.1"', 'max_inventory = "0.1"\nmax_inventry = "5"', "[risk] max_inventry: unknown key"),
    ('max_inventory = "0.1"', 'max_inventory = "0.01"', "[risk] max_order_qty: must not exceed max_inventory"),
])
def test_an_invalid_file_is_rejected_with_the_settings_error_and_the_running_config_kept(
        cfg: Path, old: str, new: str, expect: str) -> None:
    with start(cfg) as svc:
        before = svc.current
        edit(cfg, old, new)
        with pytest.raises(SettingsError) as err:
            load_settings(cfg)
        res = svc.reload("file")
        assert isinstance(res, Rejected)
        assert res.reason == str(err.value) and expect in res.reason and str(cfg) in res.reason
        assert (res.version, res.refused) == (1, {})
        assert svc.current is before and svc.version == 1
    with db(cfg) as st:
        assert [v.version for v in st.config_versions()] == [1]
        rejected = [a for a in st.audit() if a.action == "config_rejected"]
        assert [a.who for a in rejected] == ["file"]
        assert json.loads(rejected[0].detail)["reason"] == res.reason


def test_a_change_that_needs_a_restart_is_refused_naming_the_keys_and_nothing_applies(cfg: Path) -> None:
    with start(cfg) as svc:
        edit(cfg, "recv_window_ms = 5000", "recv_window_ms = 7000")
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 20.0")  # a hot key beside it: not applied either
        res = svc.reload("operator")
        assert isinstance(res, Rejected)
        assert res.reason == f"{cfg}: [exchange] recv_window_ms: needs a restart"
        assert res.refused == {"exchange.recv_window_ms": "needs a restart"}
        assert svc.current.strategy.min_spread_bps == 10.0 and svc.version == 1
        edit(cfg, "recv_window_ms = 7000", "recv_window_ms = 5000")  # reverted: the hot part applies
        ok = svc.reload("operator")
        assert isinstance(ok, Applied) and ok.version == 2 and list(ok.diff) == ["strategy.min_spread_bps"]
    with db(cfg) as st:
        assert [a.action for a in st.audit()] == ["config_applied", "config_rejected", "config_applied"]
        assert json.loads(st.audit()[1].detail)["refused"] == ["exchange.recv_window_ms"]


def test_a_layout_edit_is_unchanged_and_writes_nothing(cfg: Path) -> None:
    with start(cfg) as svc:
        edit(cfg, "# the spread", "# the spread, in bps")
        assert svc.reload("file") == Unchanged(1)
    with db(cfg) as st:
        assert len(st.config_versions()) == 1 and len(st.audit()) == 1


def test_rejections_at_the_same_clock_reading_each_leave_an_audit_row(cfg: Path) -> None:
    with start(cfg) as svc:  # the SimClock never moves: the audit key (time, who, action) must not collide
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 0")
        assert isinstance(svc.reload("sighup"), Rejected)
        assert isinstance(svc.reload("sighup"), Rejected)
    with db(cfg) as st:
        assert [a.action for a in st.audit()] == ["config_applied", "config_rejected", "config_rejected"]


def test_a_file_that_cannot_be_read_is_rejected_not_raised(cfg: Path) -> None:
    with start(cfg) as svc:
        cfg.write_bytes(b"[strategy]\nmin_spread_bps = 10.0 # \xff\xfe\n")
        res = svc.reload("file")
        assert isinstance(res, Rejected) and str(cfg) in res.reason and "utf-8" in res.reason
        cfg.unlink()
        gone = svc.reload("file")
        assert isinstance(gone, Rejected) and "file not found" in gone.reason
        assert svc.version == 1


def test_checks_veto_a_candidate_for_every_symbol(cfg: Path) -> None:
    def limits_fit(s: Settings) -> None:
        if s.risk.max_inventory > 1:
            raise ValueError("ETHUSDC: [risk] max_inventory: above what this account may hold")

    with start(cfg, checks=(limits_fit,)) as svc:
        edit(cfg, 'max_inventory = "0.1"', 'max_inventory = "2"')
        res = svc.reload("operator")
        assert isinstance(res, Rejected)
        assert res.reason == f"{cfg}: ETHUSDC: [risk] max_inventory: above what this account may hold"
        assert str(svc.current.risk.max_inventory) == "0.1"


def test_a_version_that_cannot_be_recorded_is_not_applied(cfg: Path) -> None:
    with start(cfg) as svc:
        with Store.open(cfg.parent / "mm.db") as other:  # a real SQLite failure on the version's insert
            other._conn.execute("CREATE TRIGGER no_more BEFORE INSERT ON config_versions "
                                "BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 15.0")
        res = svc.reload("sighup")
        assert isinstance(res, Rejected) and "cannot record" in res.reason and "disk is full" in res.reason
        assert svc.version == 1 and svc.current.strategy.min_spread_bps == 10.0
    with db(cfg) as st:
        assert [a.action for a in st.audit()] == ["config_applied", "config_rejected"]


def test_versions_continue_after_a_restart_and_the_start_records_what_changed_meanwhile(cfg: Path) -> None:
    with start(cfg) as svc:
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 11.0")
        assert isinstance(svc.reload("sighup"), Applied)
    # stopped; a cold key is edited (and a URL with credentials in it); the engine starts again
    edit(cfg, "recv_window_ms = 5000", 'recv_window_ms = 6000\nrest_url = "https://me:hunter2@fapi.example"\n'
         'ws_url = "wss://fstream.example"')
    with start(cfg) as svc2:
        assert svc2.version == 3
        edit(cfg, "min_spread_bps = 11.0", "min_spread_bps = 12.0")
        res = svc2.reload("file")
        assert isinstance(res, Applied) and res.version == 4
    with db(cfg) as st:
        v3 = st.config_versions()[2]
        assert (v3.version, v3.applied_by) == (3, "start")
        # a redacted value's change cannot show across a restart: both snapshots hold "<redacted>"
        assert json.loads(v3.diff) == {"exchange.recv_window_ms": ["5000", "6000"]}
        everything = json.dumps([[getattr(row, f) for f in row.__slots__]
                                 for row in [*st.config_versions(), *st.audit()]])
        assert "<redacted>" in everything
        assert "hunter2" not in everything and "fapi.example" not in everything
    raw = b"".join(p.read_bytes() for p in cfg.parent.glob("mm.db*"))  # the database and its WAL, byte for byte
    assert b"min_spread_bps" in raw and b"hunter2" not in raw


def test_two_processes_on_one_database_never_share_a_version(cfg: Path) -> None:
    with start(cfg) as a, start(cfg) as b:
        assert (a.version, b.version) == (1, 2)
        edit(cfg, "min_spread_bps = 10.0", "min_spread_bps = 13.0")
        ra, rb = a.reload("sighup"), b.reload("sighup")
        assert isinstance(ra, Applied) and isinstance(rb, Applied)
        assert (ra.version, rb.version) == (3, 4)
    with db(cfg) as st:
        assert [v.version for v in st.config_versions()] == [1, 2, 3, 4]


def test_reload_before_start_is_a_programming_error(cfg: Path) -> None:
    with ConfigService(cfg, load_settings(cfg), SimClock()) as svc:  # no run id: the rows name none
        with pytest.raises(RuntimeError):
            svc.reload("sighup")
        svc.record_start()
        with pytest.raises(RuntimeError):
            svc.record_start()
