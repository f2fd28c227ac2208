"""Structured logs: the JSON and console formats, levels per module and per sink, rotation and retention on
real files, the symbol and actor from a real actor thread, and secrets scrubbed (through loguru, standard
logging over a real loopback HTTP request, tracebacks and uncaught exceptions)."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import logging
import re
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from loguru import logger

from actors.base import EngineActor, handles
from actors.clock import SimClock
from actors.gateway.binance.signing import Credentials
from actors.logs import (
    REDACTED,
    BackgroundSink,
    LogSetup,
    RotatingFile,
    Scrubber,
    bind_context,
    configure,
    current_context,
    log_path,
    rotated_name,
    rotated_time_ns,
    to_delete,
    url_secrets,
    utc_stamp,
    with_context,
)
from actors.settings import LogSettings, SettingsError, parse_settings

# Binance's published USDⓈ-M HMAC example pair and its query ("SIGNED Endpoint Examples"), and the listenKey
# of its user-data-stream docs: real-looking values the scrubber has to catch.
KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
QUERY = ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
         "&timestamp=1591702613943")
SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
CID = "mmETHUSDC.0mwr8i5uw.0000000024"


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Callable[..., tuple[LogSetup, Path, io.StringIO]]]:
    """Configure the process's logging into tmp (file + a StringIO console); put loguru back afterwards."""
    setups: list[LogSetup] = []

    def make(secrets: tuple[str, ...] = (KEY, SECRET), **kw: Any) -> tuple[LogSetup, Path, io.StringIO]:
        path = tmp_path / "log" / "engine.jsonl"
        console = io.StringIO()
        s = configure(LogSettings(**{"path": str(path), **kw}), secrets=secrets, console=console)
        setups.append(s)
        return s, path, console

    yield make
    for s in setups:
        s.close()
    logger.add(sys.stderr)  # loguru's own default, as the rest of the suite had it
    bind_context(None, None)


def lines(setup: LogSetup, path: Path) -> list[dict[str, Any]]:
    assert setup.drain()
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def one(rows: list[dict[str, Any]], text: str) -> dict[str, Any]:
    found = [r for r in rows if text in r["msg"]]
    assert len(found) == 1, (text, rows)
    return found[0]


def log_from(module: str, *, std: bool = False) -> Callable[[str, str], None]:
    """A call site in a module of that name (loguru names a record after the caller's module), calling loguru
    or, with ``std``, standard logging (as urllib3 and pykka do)."""
    g: dict[str, Any] = {"__name__": module, "logger": logger, "logging": logging}
    body = (f"logging.getLogger({module!r}).log(logging.getLevelName(level), msg)" if std
            else "logger.log(level, msg)")
    exec(f"def log(level, msg):\n    {body}\n", g)
    return g["log"]


# ---------------------------------------------------------------------------------------------- format


def test_json_lines_carry_time_level_place_context_and_client_order_id(logs) -> None:
    setup, path, console = logs()
    bind_context("ETHUSDC", "oms")
    logger.info("order {} placed", CID)
    logger.bind(cid="mmETHUSDC.0mwr8i5uw.0000000099").warning("bound id wins over {}", CID)
    logger.bind(venue="binance-usdm").info("no id here")
    bind_context(None, None)
    logger.info("from no actor")
    rows = lines(setup, path)
    r = one(rows, "placed")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["ts"])
    assert r["level"] == "INFO" and r["module"] == __name__ and r["func"] == (
        "test_json_lines_carry_time_level_place_context_and_client_order_id")
    assert isinstance(r["line"], int) and r["thread"] == threading.current_thread().name
    assert (r["symbol"], r["actor"], r["cid"]) == ("ETHUSDC", "oms", CID)
    assert one(rows, "bound id")["cid"] == "mmETHUSDC.0mwr8i5uw.0000000099"
    plain = one(rows, "no id here")
    assert "cid" not in plain and plain["venue"] == "binance-usdm"
    bare = one(rows, "from no actor")
    assert not {"symbol", "actor", "cid"} & set(bare)
    text = console.getvalue()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z INFO     ETHUSDC oms \| order " + re.escape(CID), text,
                     re.M)
    assert re.search(r"Z INFO     from no actor$", text, re.M)
    cest = datetime(2024, 8, 8, 14, 34, 56, 789012, tzinfo=timezone(timedelta(hours=2)))  # loguru's local time
    assert (utc_stamp(cest), utc_stamp(cest, " ", 3)) == ("2024-08-08T12:34:56.789012Z", "2024-08-08 12:34:56.789Z")


def test_exceptions_are_one_json_field_with_the_traceback_scrubbed(logs) -> None:
    setup, path, console = logs()
    try:
        raise ConnectionError(f"GET /fapi/v1/order?{QUERY}&signature={SIG} with key {KEY}")
    except ConnectionError:
        logger.exception("request failed")
    r = one(lines(setup, path), "request failed")
    assert r["level"] == "ERROR"
    assert "Traceback (most recent call last)" in r["exc"] and "ConnectionError" in r["exc"]
    assert SIG not in r["exc"] and KEY not in r["exc"] and f"signature={REDACTED}" in r["exc"]
    assert "Traceback" in console.getvalue() and SIG not in console.getvalue()


# ---------------------------------------------------------------------------------------------- levels


def test_levels_per_module_and_per_sink(logs) -> None:
    setup, path, console = logs(level="INFO", modules={"actors.gateway": "DEBUG", "actors.book": "ERROR"},
                                console_level="WARNING", file_level="DEBUG")
    gw, gw_rest, book, oms = (log_from(m) for m in ("actors.gateway.actor", "actors.gateway.binance.rest",
                                                     "actors.book.actor", "actors.oms.actor"))
    gw("DEBUG", "gw debug")
    gw_rest("TRACE", "gw trace")  # below the module's DEBUG
    book("WARNING", "book warning")  # below the module's ERROR
    book("ERROR", "book error")
    oms("DEBUG", "oms debug")  # below the default INFO
    oms("INFO", "oms info")
    oms("WARNING", "oms warning")
    msgs = [r["msg"] for r in lines(setup, path)]
    assert msgs == ["gw debug", "book error", "oms info", "oms warning"]
    shown = console.getvalue()
    assert "book error" in shown and "oms warning" in shown  # the console's own level: WARNING
    assert "gw debug" not in shown and "oms info" not in shown


def test_standard_logging_follows_the_module_levels(logs) -> None:
    setup, path, _ = logs(level="DEBUG", modules={"urllib3": "WARNING"})
    logging.getLogger("some.lib").debug("std debug %s", 1)
    pool = log_from("urllib3.connectionpool", std=True)  # what urllib3's own call sites look like
    pool("DEBUG", "pool debug")
    pool("WARNING", "pool warning")
    msgs = [(r["msg"], r["level"], r["module"]) for r in lines(setup, path)]
    assert ("std debug 1", "DEBUG", __name__) in msgs  # named after the calling module, not logging's internals
    assert ("pool warning", "WARNING", "urllib3.connectionpool") in msgs
    assert not any(m == "pool debug" for m, _, _ in msgs)


def test_settings_validate_levels_and_take_a_modules_table() -> None:
    s = parse_settings({"log": {"level": "WARNING", "modules": {"actors.gateway": "DEBUG"}, "compression": "gz"}})
    assert s.log.modules == {"actors.gateway": "DEBUG"} and s.log.compression == "gz"
    for bad, why in (({"console_level": "LOUD"}, "[log] console_level: must be one of"),
                     ({"modules": {"actors.gateway": "verbose"}}, "[log.modules] 'actors.gateway': must be one of"),
                     ({"compression": "zip"}, "[log] compression"),
                     ({"rotation_mb": 0}, "[log] rotation_mb: must be > 0"),
                     ({"retention": 3}, "[log] retention: unknown key")):
        with pytest.raises(SettingsError, match=re.escape(why)):
            parse_settings({"log": bad}, "s.toml")


# ---------------------------------------------------------------------------------------------- the actor thread


class _Probe:
    pass


class ProbeActor(EngineActor):
    name = "probe"

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    @handles(_Probe)
    def _probe(self, _: _Probe) -> tuple[str | None, str | None]:
        logger.info("probe handled")
        with ThreadPoolExecutor(1) as pool:
            pool.submit(with_context(lambda: logger.info("pool work with context"))).result()
            pool.submit(lambda: logger.info("pool work without")).result()
        return current_context()


def test_an_actor_thread_tags_its_lines_with_symbol_and_name(logs) -> None:
    setup, path, _ = logs(level="DEBUG")
    ref = ProbeActor.start(types.SimpleNamespace(symbol="BTCUSDC"))
    try:
        assert ref.ask(_Probe(), timeout=5) == ("BTCUSDC", "probe")
    finally:
        ref.stop()
    logger.info("main thread")
    rows = lines(setup, path)
    r = one(rows, "probe handled")
    assert (r["symbol"], r["actor"]) == ("BTCUSDC", "probe") and r["thread"].startswith("ProbeActor-")
    assert (one(rows, "with context")["symbol"], one(rows, "with context")["actor"]) == ("BTCUSDC", "probe")
    assert "symbol" not in one(rows, "pool work without") and "symbol" not in one(rows, "main thread")
    stopped = [r for r in rows if r["msg"].startswith("Stopped ProbeActor")]  # pykka's own, via std logging
    assert stopped and stopped[0]["actor"] == "probe"


# ---------------------------------------------------------------------------------------------- scrubbing


@pytest.mark.parametrize(("text", "gone"), [
    (f"GET /fapi/v1/order?{QUERY}&signature={SIG} HTTP/1.1", SIG),
    (f"headers {{'X-MBX-APIKEY': '{KEY}', 'Accept': '*/*'}}", KEY),
    ("X-MBX-APIKEY: vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
     "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"),
    (f'reply {{"listenKey":"{LISTEN_KEY}"}}', LISTEN_KEY),
    (f"PUT /fapi/v1/listenKey?listenKey={LISTEN_KEY}", LISTEN_KEY),
    (f"ws user: connect failed (ws://127.0.0.1:4000/ws/{LISTEN_KEY}); retry", LISTEN_KEY),
    ("notify json://ops:hunter2@alerts.example.com/hook failed", "hunter2"),
    ("api_secret=s3cr3tValue, x=1", "s3cr3tValue"),
    ("{'password': 'correct horse'}", "correct"),
    (f"the secret is {SECRET[:20]}{SECRET[20:]}", SECRET),
    (f"key {KEY} in prose", KEY),
], ids=["signature", "header-repr", "header-text", "listenkey-json", "listenkey-query", "listenkey-ws-url",
        "url-password", "api-secret-pair", "password-repr", "known-secret", "known-key"])
def test_secrets_are_redacted(text: str, gone: str) -> None:
    out = Scrubber([KEY, SECRET]).scrub(text)
    assert gone not in out and REDACTED in out


def test_clean_text_is_left_alone() -> None:
    s = Scrubber([KEY, SECRET])
    for text in (f"ETHUSDC order {CID} placed at 3012.5", "ws market-ETHUSDC: ws://h/ws/ethusdc@depth@0ms",
                 "listenKey created (#2)", "listenKey keep-alive: key gone (-1125); recreating",
                 "risk state: RiskState(symbol='ETHUSDC', reason='ok')", "http://127.0.0.1:80 \"GET /fapi/v1/time\""):
        assert s.scrub(text) == text


def test_url_secrets_take_the_tokens_out_of_notification_urls() -> None:
    urls = ["tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100987654321",
            "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "json://localhost:8080/alerts"]
    s = Scrubber(url_secrets(urls))
    out = s.scrub("telegram said 401 for bot AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw; discord JHMHI8qBe7bk2ZwO5U711o3dV_js")
    assert "AAHdq" not in out and "JHMHI8" not in out
    assert s.scrub("posting to json://localhost:8080/alerts") == f"posting to {REDACTED}"  # the URL itself
    assert s.scrub("localhost is fine") == "localhost is fine"


def test_secrets_added_after_setup_are_redacted_from_then_on(logs) -> None:
    setup, path, _ = logs()
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100987654321"
    logger.info("before: {}", url)
    setup.add_secrets(url_secrets([url]))
    logger.info("after: {}", url)
    logger.info("after, the token alone: AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    rows = lines(setup, path)
    assert one(rows, "before")["msg"] == f"before: {url}"  # nobody had said it was a secret
    assert one(rows, "after:")["msg"] == f"after: {REDACTED}"
    assert one(rows, "the token alone")["msg"] == f"after, the token alone: {REDACTED}"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_a_signed_request_logged_by_urllib3_reaches_no_sink_with_its_secrets(logs) -> None:
    setup, path, console = logs(level="DEBUG", console_level="DEBUG")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        signed = Credentials(KEY, SECRET).signed(QUERY)
        assert signed.endswith(SIG)
        with requests.Session() as session:
            session.trust_env = False  # straight to loopback, whatever proxy the environment names
            r = session.get(f"http://127.0.0.1:{server.server_port}/fapi/v1/order?{signed}",
                            headers={"X-MBX-APIKEY": KEY}, timeout=5)
        assert r.status_code == 200
        logger.debug("user stream at ws://127.0.0.1:1/ws/{}", LISTEN_KEY)
    finally:
        server.shutdown()
        server.server_close()
    rows = lines(setup, path)
    logged = [r for r in rows if r["module"].startswith("urllib3") and "/fapi/v1/order" in r["msg"]]
    assert logged and f"signature={REDACTED}" in logged[0]["msg"]  # urllib3 did log the URL, redacted
    for text in (path.read_text(), console.getvalue()):
        for secret in (KEY, SECRET, SIG, LISTEN_KEY):
            assert secret not in text


def test_an_uncaught_exception_in_a_thread_is_logged_scrubbed(logs) -> None:
    setup, path, _ = logs()

    def boom() -> None:
        raise RuntimeError(f"listenKey={LISTEN_KEY} rejected")

    t = threading.Thread(target=boom, name="reader")
    t.start()
    t.join()
    r = one(lines(setup, path), "uncaught exception in thread reader")
    assert r["level"] == "CRITICAL" and "RuntimeError" in r["exc"] and LISTEN_KEY not in r["exc"]


# ---------------------------------------------------------------------------------------------- the file


def test_the_path_can_name_the_process_symbols(tmp_path: Path) -> None:
    assert log_path("/var/log/mm/{symbols}.jsonl", ["ETHUSDC", "BTCUSDC"]) == "/var/log/mm/ETHUSDC-BTCUSDC.jsonl"
    assert log_path("var/log/engine.jsonl", ["ETHUSDC"]) == "var/log/engine.jsonl"
    setup = configure(LogSettings(path=str(tmp_path / "mm-{symbols}.jsonl")), symbols=["ETHUSDC"],
                      console=io.StringIO())
    try:
        logger.info("hello")
        assert setup.drain()
    finally:
        setup.close()
        logger.add(sys.stderr)
    assert json.loads((tmp_path / "mm-ETHUSDC.jsonl").read_text())["msg"] == "hello"


def test_a_log_path_that_cannot_be_opened_leaves_logging_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    seen: list[str] = []
    hid = logger.add(lambda m: seen.append(m.record["message"]), format="{message}")
    try:
        with pytest.raises(OSError):
            configure(LogSettings(path=str(tmp_path / "afile" / "engine.jsonl")), console=io.StringIO())
        logger.info("still here")
    finally:
        logger.remove(hid)
    assert seen == ["still here"]


def test_rotation_happens_at_the_size_and_loses_no_line(tmp_path: Path) -> None:
    clock = SimClock()
    f = RotatingFile(tmp_path / "engine.jsonl", max_bytes=1000, keep_days=1, keep_files=100, clock=clock)
    sent = [f"{i:04d}".encode() + b"x" * 95 + b"\n" for i in range(25)]  # 100 bytes each
    for i in range(0, 25, 3):
        f.write_lines(sent[i:i + 3])
        clock.advance(1_000)
    f.close()
    files = sorted(p for p in tmp_path.iterdir() if p.name != "engine.jsonl")
    assert len(files) == 2 and f.rotations == 2  # 10 + 10 lines rotated, 5 in the live file
    assert all(p.stat().st_size == 1000 for p in files) and (tmp_path / "engine.jsonl").stat().st_size == 500
    assert b"".join(p.read_bytes() for p in [*files, tmp_path / "engine.jsonl"]) == b"".join(sent)
    assert [rotated_time_ns(p.name) is not None for p in files] == [True, True]


def test_rotation_through_the_logger_and_gzip(logs, tmp_path: Path) -> None:
    setup, path, _ = logs(rotation_mb=4096 / 1024 / 1024, compression="gz", retention_files=100)
    for i in range(200):
        logger.info("line {} {}", i, "y" * 60)
    assert setup.drain()
    rotated = sorted(path.parent.glob("engine.*.jsonl.gz"))
    assert len(rotated) >= 3
    assert all(len(gzip.decompress(p.read_bytes())) <= 4096 for p in rotated) and path.stat().st_size <= 4096
    got = [json.loads(ln)["msg"] for p in rotated for ln in gzip.decompress(p.read_bytes()).splitlines()]
    got += [json.loads(ln)["msg"] for ln in path.read_text().splitlines()]
    assert [m for m in got if m.startswith("line ")] == [f"line {i} {'y' * 60}" for i in range(200)]


def test_retention_by_count_and_age(tmp_path: Path) -> None:
    day = 86_400 * 10**9
    assert to_delete([("a", 1 * day), ("b", 2 * day), ("c", 3 * day)], 4 * day, 10.0, 2) == ["a"]
    assert sorted(to_delete([("a", 1 * day), ("b", 2 * day), ("c", 3 * day)], 4 * day, 1.5, 10)) == ["a", "b"]
    clock = SimClock(start_ns=1_723_161_600 * 10**9)  # 2024-08-09T00:00:00Z
    old = [rotated_name("engine", ".jsonl", clock.time_ns() - d * day) for d in (30, 20, 3, 2)]
    for name in old:
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "notes.txt").write_text("not ours")
    f = RotatingFile(tmp_path / "engine.jsonl", max_bytes=10, keep_days=14, keep_files=2, clock=clock)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*old[2:], "engine.jsonl", "notes.txt"])
    for _ in range(3):
        clock.advance(1000)
        f.write_lines([b"0123456789\n"])  # each line is past max_bytes alone: a rotation before each but the first
    f.close()
    rotated = sorted(p.name for p in tmp_path.iterdir() if rotated_time_ns(p.name) is not None)
    assert len(rotated) == 2 and all(rotated_time_ns(n) >= clock.time_ns() - 2000 for n in rotated)
    assert rotated_name("engine", ".jsonl", 1_723_161_600_123_456_789) == "engine.2024-08-09T00-00-00.123456Z.jsonl"
    assert rotated_time_ns("engine.2024-08-09T00-00-00.123456Z.jsonl") == 1_723_161_600_123_456_000


class _Gate:
    """An output stuck on its disk until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self.lines: list[str] = []

    def write_lines(self, lines: list[str]) -> None:
        self.entered.set()
        self.open.wait(10)
        self.lines.extend(lines)

    def close(self) -> None:
        pass


def test_a_stuck_disk_drops_and_counts_lines_instead_of_blocking_the_caller() -> None:
    gate = _Gate()
    sink = BackgroundSink("t", lambda r: r["message"], gate, backlog=100, notice=lambda m: f"NOTICE {m}")
    sink.put({"message": "m0"})
    assert gate.entered.wait(5)  # the writer is stuck on the disk with the first line
    for i in range(1, 501):  # all return: the caller never waits for the disk
        sink.put({"message": f"m{i}"})
    assert sink.dropped == 400
    gate.open.set()
    assert sink.drain()
    sink.stop()
    assert gate.lines[:101] == [f"m{i}" for i in range(101)]
    assert gate.lines[101:] == ["NOTICE log backlog full: 400 lines dropped"]
