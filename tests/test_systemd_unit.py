"""systemd/mm-engine@.service: the settings that matter are there and agree with the CLI they start (its flags,
its exit codes), the secrets file and the engine's watchdog; and, where the tools exist, systemd itself
accepts the unit and the engine runs under the memory protection the unit asks for."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import supervisor
from actors.settings import ExchangeSettings, SupervisionSettings
from actors.supervisor.engine import EXIT_ESCALATED, EXIT_OK
from actors.supervisor.sdnotify import SystemdSettings
from tests.conftest import shipped_settings

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "mm-engine@.service"
ENV_EXAMPLE = REPO / "systemd" / "mm-engine.env.example"
README = REPO / "systemd" / "README.md"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """systemd's unit syntax, as much as the shipped unit uses: sections, ``Key=value`` (a key may repeat; every
    value is kept, in order), whole-line comments (``#``, ``;``), a trailing backslash continuing a line."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"line {n}: bad section header {line!r}"
            section = unit.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and section is not None, f"line {n}: not Key=value inside a section: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def timespan_s(value: str) -> float:
    """A systemd time span ("30s", "2min", "1min 30s", "180") in seconds."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    assert parts and "".join(a + b for a, b in parts) == value.replace(" ", ""), f"not a time span: {value!r}"
    for number, unit in parts:
        total += float(number) * units[unit or "s"]
    return total


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse_unit(UNIT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def service(unit: Unit) -> dict[str, list[str]]:
    return unit["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    values = service.get(key)
    assert values is not None, f"{key}= missing"
    assert len(values) == 1, f"{key}= given {len(values)} times"
    return values[0]


def exec_start(service: dict[str, list[str]]) -> list[str]:
    return shlex.split(one(service, "ExecStart"))


# ---------------------------------------------------------------------------------------------- the parser


def test_the_parser_keeps_repeated_keys_and_continued_lines() -> None:
    u = parse_unit("# c\n[Service]\n; c\nA=1\nA=\nA=2 3\nB=x\\\n  y\n[Install]\nWantedBy=multi-user.target\n")
    assert u == {"Service": {"A": ["1", "", "2 3"], "B": ["x y"]}, "Install": {"WantedBy": ["multi-user.target"]}}
    with pytest.raises(AssertionError):
        parse_unit("A=1\n")  # outside a section
    assert timespan_s("30s") == 30 and timespan_s("2min") == 120 and timespan_s("1min 30s") == 90
    assert timespan_s("180") == 180
    with pytest.raises(AssertionError):
        timespan_s("soon")


# ---------------------------------------------------------------------------------------------- the unit


def test_no_value_carries_a_trailing_comment(unit: Unit) -> None:
    # systemd takes "30s  # comment" as the value itself: every comment must have a line of its own
    for section in unit.values():
        for key, values in section.items():
            for v in values:
                assert "#" not in v, f"{key}={v}: a comment after a value is part of the value"


def test_a_notify_service_restarted_on_failure_with_a_watchdog(service: dict[str, list[str]]) -> None:
    assert one(service, "Type") == "notify"
    assert one(service, "NotifyAccess") == "main"
    assert one(service, "Restart") == "on-failure"
    assert timespan_s(one(service, "RestartSec")) >= 1
    assert one(service, "KillSignal") in ("SIGINT", "SIGTERM")  # supervisor.py shuts down in order on both
    # a watchdog timeout must start the orderly shutdown too, not SIGABRT's core dump with orders resting
    assert one(service, "WatchdogSignal") in ("SIGINT", "SIGTERM")
    assert one(service, "KillMode") in ("mixed", "control-group")
    watchdog = timespan_s(one(service, "WatchdogSec"))
    assert 10 <= watchdog <= 120
    # the shutdown waits up to 5 s for cancels and 30 s per tree before its final REST cancel-all: a set of
    # two symbols needs well over a minute in the worst case
    assert timespan_s(one(service, "TimeoutStopSec")) >= 120
    assert timespan_s(one(service, "TimeoutAbortSec")) >= 60
    assert timespan_s(one(service, "TimeoutStartSec")) >= 60
    unit_section = parse_unit(UNIT.read_text(encoding="utf-8"))["Unit"]
    assert int(one(unit_section, "StartLimitBurst")) >= 2 and timespan_s(one(unit_section, "StartLimitIntervalSec"))


def test_the_restart_policy_follows_the_cli_exit_codes(service: dict[str, list[str]]) -> None:
    prevent = {int(x) for v in service["RestartPreventExitStatus"] for x in v.split()}
    assert prevent == {supervisor.EXIT_CONFIG, supervisor.EXIT_LOCKED}  # a restart cannot fix either
    assert (EXIT_OK, EXIT_ESCALATED) == (0, 1)  # 0: a clean stop is not restarted; 1 is (on-failure)
    assert EXIT_ESCALATED not in prevent
    assert "SuccessExitStatus" not in service  # exit 1 must stay a failure
    doc = supervisor.__doc__ or ""
    for code in (EXIT_ESCALATED, supervisor.EXIT_CONFIG, supervisor.EXIT_LOCKED):
        assert re.search(rf"\b{code}\b", doc), f"exit code {code} undocumented in supervisor.py"


def test_exec_start_runs_the_cli_with_flags_it_has() -> None:
    svc = parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]
    argv = exec_start(svc)
    python, script, args = argv[0], argv[1], argv[2:]
    root = Path(script).parent
    assert python == str(root / ".venv" / "bin" / "python") and Path(script).name == "supervisor.py"
    flags = [a for a in args if a.startswith("--")]
    assert set(flags) == {"--symbols", "--config"}
    help_text = subprocess.run([sys.executable, str(REPO / "supervisor.py"), "--help"], capture_output=True,
                               text=True, timeout=60, check=True).stdout
    for flag in flags:
        assert re.search(rf"(^|\s){re.escape(flag)}\b", help_text), f"{flag} is not an option of supervisor.py"
    assert args[args.index("--symbols") + 1] == "%I"  # the unescaped instance: the symbol set, commas and all
    config = args[args.index("--config") + 1]
    assert config.startswith("/etc/")
    # what the CLI makes of it, for the instance mm-engine@ETHUSDC\x2cBTCUSDC
    parsed = supervisor.parse_args([a.replace("%I", "ETHUSDC,BTCUSDC") for a in args])
    assert parsed.symbols == "ETHUSDC,BTCUSDC" and parsed.config == config
    assert parsed.duration == 0 and parsed.resume == ""  # runs until stopped; never lifts a halt by itself
    readme = README.read_text(encoding="utf-8")
    assert str(root) in readme and config in readme


def test_state_logs_and_secrets(service: dict[str, list[str]]) -> None:
    user = one(service, "User")
    assert user not in ("", "root", "0")
    state = f"/var/lib/{one(service, 'StateDirectory')}"
    logs = f"/var/log/{one(service, 'LogsDirectory')}"
    assert one(service, "WorkingDirectory") == state  # relative store/lock paths land in writable state
    writable = set(one(service, "ReadWritePaths").split())
    assert {state, logs} <= writable
    env_file = one(service, "EnvironmentFile")
    assert env_file.startswith("/etc/") and not env_file.startswith("-")  # a missing key file fails the start
    assert not any("MM_API" in v for v in service.get("Environment", []))  # never inline in the unit
    readme = README.read_text(encoding="utf-8")
    assert env_file in readme and "0600" in readme and "useradd --system" in readme and user in readme


def test_the_env_example_holds_placeholders_for_the_names_the_settings_read() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    pairs = dict(ln.split("=", 1) for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
    ex = ExchangeSettings()
    assert {ex.api_key_env, ex.api_secret_env} <= set(pairs)
    for name, value in pairs.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert value == "" or value.startswith("REPLACE_WITH_"), f"{name}: only placeholders belong in the example"
    assert "0600" in text


def test_the_env_example_names_the_alert_variables_the_notifier_reads() -> None:
    alerts = pytest.importorskip("actors.notifier.settings")
    s = alerts.AlertSettings()
    names = {ln.split("=", 1)[0] for ln in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if "=" in ln and not ln.lstrip().startswith("#")}
    assert {s.urls_env(level) for level in ("P0", "P1", "P2")} <= names


def test_hardening(service: dict[str, list[str]]) -> None:
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "LockPersonality": "yes", "RestrictRealtime": "yes", "MemoryDenyWriteExecute": "yes",
        "CapabilityBoundingSet": "", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes", "RestrictSUIDSGID": "yes", "RestrictNamespaces": "yes",
        "SystemCallArchitectures": "native",
    }
    for key, value in expected.items():
        assert one(service, key) == value, key
    assert set(one(service, "RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}  # AF_UNIX:
    # the notify socket and the journal
    filters = service["SystemCallFilter"]
    assert filters[0] == "@system-service" and all(f.startswith("~") for f in filters[1:])


def test_the_watchdog_budget_agrees_with_the_engine_settings(service: dict[str, list[str]]) -> None:
    watchdog = timespan_s(one(service, "WatchdogSec"))
    sv, sd = SupervisionSettings(), SystemdSettings()
    # one heartbeat round must fit in the proof age, or a healthy tree would withhold the pings
    assert sd.proof_max_age_s > sv.heartbeat_s + sv.heartbeat_timeout_s
    # a hung tree is noticed by systemd within a minute
    assert sd.proof_max_age_s + watchdog <= 60


# ---------------------------------------------------------------------------------------------- systemd's tools


def test_an_escaped_symbol_set_round_trips_to_the_cli() -> None:
    if shutil.which("systemd-escape") is None:
        pytest.skip("systemd-escape not installed")
    name = subprocess.run(["systemd-escape", "--template", UNIT.name, "ETHUSDC,BTCUSDC"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert name == "mm-engine@ETHUSDC\\x2cBTCUSDC.service"
    instance = subprocess.run(["systemd-escape", "--unescape", "--instance", name], capture_output=True, text=True,
                              check=True).stdout.strip()
    args = [a.replace("%I", instance) for a in exec_start(parse_unit(UNIT.read_text(encoding="utf-8"))
                                                            ["Service"])[2:]]
    assert supervisor.parse_args(args).symbols == "ETHUSDC,BTCUSDC"
    assert "systemd-escape --template mm-engine@.service ETHUSDC,BTCUSDC" in README.read_text(encoding="utf-8")


def local_copy(tmp_path: Path) -> Path:
    """The unit with its install paths pointing at this checkout (verify checks that ExecStart exists)."""
    text = UNIT.read_text(encoding="utf-8")
    root = str(Path(exec_start(parse_unit(text)["Service"])[1]).parent)
    text = text.replace(f"{root}/.venv/bin/python", sys.executable).replace(root, str(REPO))
    out = tmp_path / UNIT.name
    out.write_text(text, encoding="utf-8")
    return out


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    local = local_copy(tmp_path)
    instance = tmp_path / "mm-engine@ETHUSDC\\x2cBTCUSDC.service"  # verify loads the template for it
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(instance)], capture_output=True, text=True,
                       timeout=60, check=False, cwd=tmp_path)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stderr + r.stdout
    # and it would say so: an unknown key is reported
    local.write_text(local.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "mm-engine@ETHUSDC.service")],
                       capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert "Unknown key" in r.stderr


def test_systemd_rates_the_exposure_low(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    local = local_copy(tmp_path)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", str(local)],
                       capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    if "--offline" in r.stderr and "unrecognized" in r.stderr:
        pytest.skip("systemd-analyze too old for --offline (needs systemd 250)")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]  # exposure ≤ 2.0 on systemd's 0-10 scale


def test_the_engine_runs_with_write_xor_execute_memory(tmp_path: Path) -> None:
    """MemoryDenyWriteExecute=yes must not break CPython or the native packages. PR_SET_MDWE (Linux 6.3) is
    the kernel's own form of the same rule: a short run on the embedded exchange under it."""
    cfg = shipped_settings(tmp_path)
    code = textwrap.dedent(f"""
        import ctypes, mmap, runpy, sys
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
            print("MDWE unsupported", ctypes.get_errno(), flush=True)
            sys.exit(77)
        try:
            mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            sys.exit("writable+executable memory was allowed: the protection is not on")
        except PermissionError:
            pass
        sys.argv = [{str(REPO / "supervisor.py")!r}, "--symbols", "ETHUSDC,BTCUSDC", "--duration", "2",
                    "--config", {str(cfg)!r}, "--json-summary"]
        runpy.run_path(sys.argv[0], run_name="__main__")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, cwd=REPO,
                       check=False)
    if r.returncode == 77:
        pytest.skip(f"the kernel has no PR_SET_MDWE: {r.stdout.strip()}")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(summary["symbols"]) == {"ETHUSDC", "BTCUSDC"}
    assert all(s["open_orders"] == 0 for s in summary["symbols"].values())
    assert "book synced" in r.stderr
