"""A full run of the real CLI at DEBUG (every REST request logged by urllib3) on the embedded simulated
exchange with credentials made up for this run: neither the JSON log file nor stderr holds the key, the
secret, a signature or the listenKey; every file line is JSON; actor lines carry their symbol and actor."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

from simex.listenkeys import ListenKeys

REPO = Path(__file__).resolve().parents[2]
SEED = 7
ACTOR_THREAD = re.compile(r"^(Gateway|Book|Risk|Oms|Strategy|Analyzer)Actor-\d+$")


def settings_file(tmp: Path, api_key: str, api_secret: str) -> Path:
    text = (REPO / "settings.toml").read_text()
    for old, new in (('path = "var/mm.db"', f'path = "{tmp}/mm.db"'),
                     ('state_dir = "var"', f'state_dir = "{tmp}"'),
                     ('path = "var/log/engine.jsonl"', f'path = "{tmp}/log/engine.jsonl"'),
                     ('\nlevel = "INFO"', '\nlevel = "DEBUG"'),
                     ('\nconsole_level = "INFO"', '\nconsole_level = "DEBUG"'),
                     ("[simex]\n", f'[simex]\napi_key = "{api_key}"\napi_secret = "{api_secret}"\n'),
                     ("\nseed = 7\n", f"\nseed = {SEED}\n"),
                     ('out_dir = "var/reports"', f'out_dir = "{tmp}/reports"'), ("port = 9464", "port = 0"),
                     ('"urllib3" = "WARNING"', '"urllib3" = "DEBUG"')):  # its request lines carry signatures
        assert text.count(old) == 1, f"settings.toml changed: {old!r}"
        text = text.replace(old, new)
    cfg = tmp / "settings.toml"
    cfg.write_text(text)
    return cfg


def test_a_debug_run_logs_no_secret_and_tags_actor_lines(tmp_path: Path) -> None:
    api_key, api_secret = secrets.token_hex(32), secrets.token_hex(32)
    cfg = settings_file(tmp_path, api_key, api_secret)
    r = subprocess.run([sys.executable, str(REPO / "supervisor.py"), "--symbols", "ETHUSDC", "--duration", "8",
                        "--config", str(cfg)], capture_output=True, text=True, timeout=90, cwd=REPO, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    logfile = tmp_path / "log" / "engine.jsonl"
    text = logfile.read_text()
    rows = [json.loads(ln) for ln in text.splitlines()]  # every line is one JSON object
    assert len(rows) > 20

    # the simulator's listenKeys are a function of its seed, the account and a counter: the run's own keys
    keys = ListenKeys(ttl_ms=1, seed=SEED)
    listen_keys = [keys.create(api_key, now) for now in (0, 10, 20)]
    assert any(row["msg"] == "listenKey created (#1)" for row in rows)  # a user stream was opened
    for where, out in (("log file", text), ("stderr", r.stderr), ("stdout", r.stdout)):
        for name, secret in (("api key", api_key), ("api secret", api_secret),
                             *((f"listenKey #{i + 1}", k) for i, k in enumerate(listen_keys))):
            assert secret not in out, f"{name} in the {where}"
        assert not re.search(r"signature=[0-9a-fA-F]{8,}", out), f"a signature in the {where}"
        assert not re.search(r"listenKey\W{0,6}[A-Za-z0-9]{60,}|/ws/[A-Za-z0-9]{60,}", out), f"a listenKey in {where}"
    # the requests were logged (DEBUG), with their signatures redacted: the checks above had something to check
    signed = [row for row in rows if row["module"].startswith("urllib3") and "signature=<redacted>" in row["msg"]]
    assert signed and "signature=<redacted>" in r.stderr

    by_actor = [row for row in rows if ACTOR_THREAD.match(row["thread"])]
    for row in by_actor:
        assert row.get("symbol") == "ETHUSDC", row
        assert row.get("actor") == ACTOR_THREAD.match(row["thread"]).group(1).lower(), row
    assert {"gateway", "book", "risk", "oms", "strategy", "analyzer"} <= {row["actor"] for row in by_actor}
    assert any(row["actor"] == "book" and "book synced" in row["msg"] for row in by_actor)
    assert all(row.get("actor") == "supervisor" for row in rows if row["thread"].startswith("SupervisorActor-"))
    assert re.search(r"^\S+ \S+ INFO     ETHUSDC oms \| ETHUSDC OMS started", r.stderr, re.M)
