"""tools/simex.py: prints exactly one JSON line when ready, serves, applies --fault/--regime, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_cli_starts_prints_the_json_line_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "simex.py"), "--seed", "3", "--speed", "2",
         "--fault", "rest_delay:ms=1,seconds=60", "--regime", "BTCUSDT=high_vol", "--api-key", "k1",
         "--api-secret", "s1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        urls = json.loads(line)
        assert set(urls) == {"rest", "ws"}
        assert urls["rest"].startswith("http://127.0.0.1:") and urls["ws"].startswith("ws://127.0.0.1:")
        assert requests.get(urls["rest"] + "/fapi/v1/ping", timeout=5).json() == {}
        st = requests.get(urls["rest"] + "/admin/state", timeout=5).json()
        assert "rest_delay" in st["faults"]["active"] and st["symbols"]["BTCUSDT"]["regime"] == "high_vol"
        assert "k1" in st["accounts"]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert out == ""                      # nothing but the one JSON line on stdout
        assert "simex stopping" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_bad_arguments() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "simex.py"), "--fault", "nope"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "" and "unknown fault" in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "simex.py"), "--symbols", "DOGEUSDT"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
