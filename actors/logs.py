"""Structured logs: JSON lines to a rotating file, readable lines on stderr, secrets scrubbed, and the
symbol, actor and client order id on every line that has them, without any call site passing them.

Where the work is done, and why:

* On the caller's thread (an actor's), only what must be: loguru builds the record, ``LogPatcher`` adds the
  thread's symbol and actor (a ``ContextVar`` set once as an actor's thread starts, see ``bind_context``) and
  scrubs the message, and one loguru handler (``FanOut``) puts the record on each output's
  ``queue.SimpleQueue``.
* On one writer thread per output: rendering (orjson for the file, text for the console), the client order
  id picked out of the message, the exception text (scrubbed too), the write, rotation, retention, gzip.

Not loguru's ``enqueue=True``: it pickles every record in the caller and writes it to a ``multiprocessing``
pipe under a lock, a syscall per line; and once the 64 KiB pipe is full because the disk stalls, the caller
blocks: an actor would wait on the disk after all. Here a full backlog (``backlog_lines``) drops new lines
and counts them (the writer logs how many when it catches up); an actor never waits. Measured roughly on the
shared 2-core dev VM, where loguru itself is slow (a handler whose sink does nothing: ~55 µs a call; expect
several times less on a real server), one INFO line, median of calls spaced 0.5 ms apart as an actor's are:
loguru alone 58 µs, loguru's own file + stderr sinks 111 µs, the same with ``enqueue=True`` 302 µs, this
module (file + console) 84 µs; back to back, 51 / 89 / 462 / 99 µs. A DEBUG call below every level: ~1 µs
(the handler's level is the lowest any module may log at, so loguru returns before building a record).

Scrubbing (``Scrubber``): the known values given at setup (API key and secret, notification URLs and their
tokens) and patterns: ``signature=<hex>``, ``X-MBX-APIKEY`` header values, listenKeys (after the word, or in a
``/ws/<key>`` URL), URL passwords, ``secret=``/``password=``/``token=``-style pairs. A pattern runs only when
its key word is in the text (substring searches; a regex alternation probe was slower here): 2-4 µs on a clean
100-character message, 10-18 µs on one it redacts. ``diagnose`` stays off: loguru would print the values of
local variables in tracebacks, a credential among them.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import inspect
import logging
import queue
import re
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

import orjson
from loguru import logger

from actors.clock import Clock, WallClock

if TYPE_CHECKING:
    from loguru import Message, Record

    from actors.settings import LogSettings

LEVEL_NO = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
REDACTED = "<redacted>"
# our client order ids, <tag>.<run>.<seq> (actors/oms/ids.py): mmETHUSDC.0mwr8i5uw.0000000024
CLIENT_ID_RE = re.compile(r"(?<![A-Za-z0-9.])[A-Za-z0-9]{1,14}\.[0-9a-z]{9}\.[0-9]{10}(?![0-9])")

# ---------------------------------------------------------------------------------------------- context

# Per thread: pykka runs each actor on a thread of its own, and a new thread starts with an empty context.
_CONTEXT: ContextVar[tuple[str | None, str | None]] = ContextVar("mm_log_context", default=(None, None))


def bind_context(symbol: str | None, actor: str | None) -> None:
    """Tag every line this thread logs from now on (an actor's thread calls it once, as it starts)."""
    _CONTEXT.set((symbol, actor))


def current_context() -> tuple[str | None, str | None]:
    return _CONTEXT.get()


def with_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run with the caller's symbol and actor: for work handed to another thread (a pool, a reader)."""
    symbol, actor = _CONTEXT.get()

    def run(*args: Any, **kw: Any) -> Any:
        token = _CONTEXT.set((symbol, actor))
        try:
            return fn(*args, **kw)
        finally:
            _CONTEXT.reset(token)  # a pool thread goes back to whatever it was

    return run


# ---------------------------------------------------------------------------------------------- scrubbing

_KEY_CHARS = r"[^\s'\",&;}\]\\]"  # a value in a header, query string, repr or JSON ends at one of these
# (words in the lower-cased text that make the rule worth running, pattern, replacement)
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("signature=",), re.compile(r"(signature=)[0-9A-Fa-f]+"), rf"\1{REDACTED}"),
    (("x-mbx-apikey",), re.compile(rf"(?i)(x-mbx-apikey['\"]?\s*[:=,]\s*['\"]?){_KEY_CHARS}+"), rf"\1{REDACTED}"),
    (("listenkey",), re.compile(r"(?i)(listenKey\W{0,4})[A-Za-z0-9]{16,}+"), rf"\1{REDACTED}"),
    (("/ws/",), re.compile(r"(/ws/)[A-Za-z0-9]{16,}+(?!@)"), rf"\1{REDACTED}"),  # the user stream; market ones have @
    (("://",), re.compile(r"(://[^\s/:@'\"\\]*:)[^\s/@'\"\\]+@"), rf"\1{REDACTED}@"),  # scheme://user:password@host
    (("secret", "passw", "token", "apikey", "api_key", "api-key", "access_key", "access-key"),
     re.compile(r"(?i)(api[_-]?key|api[_-]?secret|secret[_-]?key|secret|password|passwd|token|access[_-]?key)"
                rf"(['\"]?\s*[:=]\s*['\"]?)(?!{REDACTED}){_KEY_CHARS}{{4,}}"), rf"\1\2{REDACTED}"),
)


class Scrubber:
    """Redacts secrets from a text: the known values, then each pattern whose key word the text contains.
    A clean text costs one ``lower()`` and a dozen substring searches (C speed); no regex runs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known: tuple[str, ...] = ()
        self._words = tuple((w, i) for i, (words, _, _) in enumerate(_RULES) for w in words)
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """More values to redact (notification URLs resolved after logging started); safe from any thread:
        the tuple is replaced whole."""
        values = {*self._known, *(v for v in secrets if v and len(v) >= 4)}
        self._known = tuple(sorted(values, key=len, reverse=True))  # longest first: no value left half-redacted

    def scrub(self, text: str) -> str:
        for v in self._known:
            if v in text:
                text = text.replace(v, REDACTED)
        low = text.lower()
        due = 0
        for w, i in self._words:
            if w in low:
                due |= 1 << i
        if due:
            for i, (_, pattern, repl) in enumerate(_RULES):
                if due >> i & 1:
                    text = pattern.sub(repl, text)
        return text


def url_secrets(urls: Iterable[str]) -> list[str]:
    """Secret values in notification URLs (apprise ``tgram://<bot token>/<chat>``, ``json://user:pass@host``):
    each whole URL and every part of it that looks like a token (16+ characters, or 8+ with a digit)."""
    out: list[str] = []
    for url in urls:
        if not url:
            continue
        out.append(url)
        rest = url.split("://", 1)[-1]
        for part in re.split(r"[/:@?&=#,]", rest):
            if "." not in part and (len(part) >= 16 or (len(part) >= 8 and any(c.isdigit() for c in part))):
                out.append(part)
        m = re.match(r"[^/@]*:([^/@]+)@", rest)
        if m:
            out.append(m.group(1))  # a password, whatever it looks like
    return out


# ---------------------------------------------------------------------------------------------- the patcher


class LogPatcher:
    """Runs on the caller's thread for every record: adds the thread's symbol and actor (a value a call bound
    itself wins) and scrubs the message, so every sink, ours or not, sees it clean."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def __call__(self, record: Record) -> None:
        symbol, actor = _CONTEXT.get()
        extra = record["extra"]
        if symbol is not None and "symbol" not in extra:
            extra["symbol"] = symbol
        if actor is not None and "actor" not in extra:
            extra["actor"] = actor
        record["message"] = self.scrubber.scrub(record["message"])


# ---------------------------------------------------------------------------------------------- rendering


def client_order_id(record: Record) -> str | None:
    """The record's client order id: bound by the call (``cid``/``client_order_id``), else the first in the text."""
    extra = record["extra"]
    cid = extra.get("cid") or extra.get("client_order_id")
    if cid:
        return str(cid)
    m = CLIENT_ID_RE.search(record["message"])
    return m.group(0) if m else None


def exception_text(record: Record, scrubber: Scrubber) -> str | None:
    exc = record["exception"]
    if exc is None or exc.type is None:
        return None
    return scrubber.scrub("".join(traceback.format_exception(exc.type, exc.value, exc.traceback)).rstrip())


def utc_stamp(t: datetime, sep: str = "T", digits: int = 6) -> str:
    """``2024-08-08T12:34:56.789012Z`` (loguru's local aware time, in UTC)."""
    frac = f"{t.microsecond:06d}"[:digits]
    return f"{time.strftime(f'%Y-%m-%d{sep}%H:%M:%S', t.utctimetuple())}.{frac}Z"


_OURS = frozenset({"symbol", "actor"})  # set from the actor's context, not from anything a call passed


def json_line(record: Record, scrubber: Scrubber) -> bytes:
    """One compact JSON line: ts (UTC), level, msg, module, func, line, thread, then symbol, actor, cid and
    anything else a call bound, then exc (the scrubbed traceback)."""
    out: dict[str, Any] = {
        "ts": utc_stamp(record["time"]),
        "level": record["level"].name,
        "msg": record["message"],
        "module": record["name"],
        "func": record["function"],
        "line": record["line"],
        "thread": record["thread"].name,
    }
    for key, value in record["extra"].items():
        if key.startswith("_") or key == "client_order_id":
            continue
        out[key] = scrubber.scrub(value) if isinstance(value, str) and key not in _OURS else value
    cid = client_order_id(record)
    if cid:
        out["cid"] = cid
    exc = exception_text(record, scrubber)
    if exc:
        out["exc"] = exc
    return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS,
                        default=str)


def console_line(record: Record, scrubber: Scrubber) -> str:
    """``2024-08-08 12:34:56.789Z INFO     ETHUSDC oms | message`` (+ the scrubbed traceback)."""
    extra = record["extra"]
    who = " ".join(str(extra[k]) for k in ("symbol", "actor") if extra.get(k))
    head = f"{utc_stamp(record['time'], ' ', 3)} {record['level'].name:<8} "
    line = f"{head}{who} | {record['message']}" if who else f"{head}{record['message']}"
    exc = exception_text(record, scrubber)
    return f"{line}\n{exc}\n" if exc else f"{line}\n"


# ---------------------------------------------------------------------------------------------- the file


def iso_utc(time_ns: int, sep: str = "T") -> str:
    s, rem = divmod(time_ns, 1_000_000_000)
    return f"{time.strftime(f'%Y-%m-%d{sep}%H:%M:%S', time.gmtime(s))}.{rem // 1_000_000:03d}Z"


def rotated_name(stem: str, suffix: str, time_ns: int) -> str:
    """``engine.2024-08-08T12-34-56.789012Z.jsonl``: sortable by name, no colons."""
    s, rem = divmod(time_ns, 1_000_000_000)
    return f"{stem}.{time.strftime('%Y-%m-%dT%H-%M-%S', time.gmtime(s))}.{rem // 1000:06d}Z{suffix}"


_STAMP_RE = re.compile(r"\.(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)\.(\d{6})Z\.")


def rotated_time_ns(name: str) -> int | None:
    """The rotation time a rotated file's name carries (None: not one of ours)."""
    m = _STAMP_RE.search(name)
    if m is None:
        return None
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H-%M-%S"))
    return secs * 1_000_000_000 + int(m.group(2)) * 1000


def to_delete(rotated: Iterable[tuple[str, int]], now_ns: int, keep_days: float, keep_files: int) -> list[str]:
    """Retention: rotated files (name, rotation time) older than ``keep_days``, and all but the newest
    ``keep_files``."""
    newest_first = sorted(rotated, key=lambda f: (f[1], f[0]), reverse=True)
    horizon = now_ns - int(keep_days * 86_400 * 1e9)
    return [name for i, (name, t) in enumerate(newest_first) if i >= keep_files or t < horizon]


class RotatingFile:
    """An append-only file that is renamed aside (with its rotation time) before a line would take it past
    ``max_bytes``; rotated files are gzipped if asked and kept by age and count. Used by one thread."""

    def __init__(self, path: str | Path, *, max_bytes: int, keep_days: float, keep_files: int,
                 compress: bool = False, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep_days = keep_days
        self.keep_files = keep_files
        self.compress = compress
        self._clock: Clock = clock or WallClock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "ab")  # noqa: SIM115  held open for the writer thread's lifetime
        self._size = self._f.tell()
        self._last_stamp_us = 0
        self.rotations = 0
        self.prune()

    def write_lines(self, lines: Iterable[bytes]) -> None:
        chunk: list[bytes] = []
        size = self._size
        for line in lines:
            if size and size + len(line) > self.max_bytes:
                self._f.write(b"".join(chunk))
                chunk.clear()
                self.rotate()
                size = self._size
            chunk.append(line)
            size += len(line)
        self._f.write(b"".join(chunk))
        self._f.flush()
        self._size = size

    def rotated_files(self) -> list[tuple[str, int]]:
        stem, suffix = self.path.stem, self.path.suffix
        out = []
        for p in self.path.parent.glob(f"{stem}.*{suffix}*"):
            t = rotated_time_ns(p.name) if p != self.path else None
            if t is not None:
                out.append((p.name, t))
        return out

    def rotate(self) -> None:
        self._f.close()
        try:
            stem, suffix = self.path.stem, self.path.suffix
            # names carry µs and must sort in rotation order: two rotations within one µs take the next µs
            stamp = max(self._clock.time_ns() // 1000, self._last_stamp_us + 1)
            target = self.path.with_name(rotated_name(stem, suffix, stamp * 1000))
            while target.exists() or target.with_name(target.name + ".gz").exists():  # the clock stepped back
                stamp += 1
                target = self.path.with_name(rotated_name(stem, suffix, stamp * 1000))
            self._last_stamp_us = stamp
            self.path.rename(target)
            self.rotations += 1
        finally:  # renamed or not (a full disk, a permission), logging goes on in a file at the path
            self._f = open(self.path, "ab")  # noqa: SIM115
            self._size = self._f.tell()
        if self.compress:
            with open(target, "rb") as src, gzip.open(target.with_name(target.name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            target.unlink()
        self.prune()

    def prune(self) -> None:
        for name in to_delete(self.rotated_files(), self._clock.time_ns(), self.keep_days, self.keep_files):
            with contextlib.suppress(FileNotFoundError):
                (self.path.parent / name).unlink()

    def close(self) -> None:
        self._f.close()


class StreamOut:
    """The console: text lines to a stream (stderr), flushed per batch."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write_lines(self, lines: Iterable[str]) -> None:
        self._stream.write("".join(lines))
        self._stream.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.flush()


# ---------------------------------------------------------------------------------------------- the sink

T = TypeVar("T", str, bytes)


class _Stop:
    pass


class _Drained:
    """A marker: set once every line queued before it is written."""

    def __init__(self) -> None:
        self.event = threading.Event()


class BackgroundSink(Generic[T]):
    """One output (the file, the console) behind its own queue and writer thread: the caller never waits for
    rendering or I/O. Past ``backlog`` queued lines, new ones are dropped and counted."""

    BATCH = 2048

    def __init__(self, name: str, render: Callable[[Record], T], out: Any, *, backlog: int,
                 notice: Callable[[str], T]) -> None:
        self.name = name
        self._render = render
        self._out = out  # write_lines(list[T]), close()
        self._notice = notice
        self._backlog = backlog
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.dropped = 0
        self.written = 0
        self.errors = 0
        self._reported_drops = 0
        self._thread = threading.Thread(target=self._run, name=f"log-{name}", daemon=True)
        self._thread.start()

    def put(self, record: Record) -> None:
        if self._q.qsize() >= self._backlog:
            self.dropped += 1  # racy by one at worst: a count for the operator, not an invariant
            return
        self._q.put(record)

    def _run(self) -> None:
        while True:
            batch = [self._q.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < self.BATCH:
                    batch.append(self._q.get_nowait())
            lines: list[T] = []
            markers: list[Any] = []
            for record in batch:
                if isinstance(record, _Stop | _Drained):
                    markers.append(record)
                    continue
                try:
                    lines.append(self._render(record))
                except Exception as exc:  # a line that cannot be rendered must not take the others with it
                    self.errors += 1
                    lines.append(self._notice(f"log line could not be rendered ({type(exc).__name__})"))
            if self.dropped > self._reported_drops:
                n, self._reported_drops = self.dropped - self._reported_drops, self.dropped
                lines.append(self._notice(f"log backlog full: {n} lines dropped"))
            if lines:
                try:
                    self._out.write_lines(lines)
                    self.written += len(lines)
                except Exception as exc:  # disk full, a closed stream: keep going, say so where it can be seen
                    self.errors += 1
                    if self.errors <= 3:
                        print(f"log sink {self.name}: write failed: {exc}", file=sys.__stderr__, flush=True)
            for m in markers:
                if isinstance(m, _Drained):
                    m.event.set()
            if any(isinstance(m, _Stop) for m in markers):
                self._out.close()
                return

    def drain(self, timeout_s: float = 5.0) -> bool:
        """Wait until every line queued so far is written (tests, shutdown; never on the hot path)."""
        if not self._thread.is_alive():
            return True
        marker = _Drained()
        self._q.put(marker)
        return marker.event.wait(timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Write what is queued, close the output."""
        if self._thread.is_alive():
            self._q.put(_Stop())
            self._thread.join(timeout_s)


class FanOut:
    """The one loguru sink: hands each record to the outputs whose level it reaches. One loguru handler for
    both outputs, because each handler costs the caller a record copy and a format pass."""

    def __init__(self, routes: list[tuple[int, BackgroundSink[Any]]]) -> None:
        self.routes = routes

    def write(self, message: Message) -> None:
        record = message.record
        no = record["level"].no
        for level, sink in self.routes:
            if no >= level:
                sink.put(record)

    def stop(self) -> None:
        """loguru calls this from ``logger.remove``: what is queued is written first."""
        for _, sink in self.routes:
            sink.stop()


# ---------------------------------------------------------------------------------------------- std logging


class InterceptHandler(logging.Handler):
    """Standard-library logging (pykka, urllib3, websocket-client) into loguru, under the caller's module name
    so ``[log.modules]`` applies to it too (``urllib3 = "WARNING"``)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


# ---------------------------------------------------------------------------------------------- setup


def module_filter(default: str, modules: dict[str, str]) -> dict[str, str]:
    """loguru's per-module filter: the longest matching dotted prefix decides, ``""`` is every other module."""
    return {"": default, **modules}


def lowest_level(settings: LogSettings) -> int:
    """The lowest level any module may log at: below it a call costs nothing (loguru returns early)."""
    return min(LEVEL_NO[lv] for lv in (settings.level, *settings.modules.values()))


@dataclass
class LogSetup:
    """What ``configure`` installed; ``close`` writes what is queued and puts the process's logging back."""

    scrubber: Scrubber
    sinks: dict[str, BackgroundSink[Any]]
    handler_ids: list[int]
    _std: tuple[logging.Handler | None, int]  # the handler we put on the root logger, the level it had
    _hooks: tuple[Any, Any]
    closed: bool = False

    def drain(self, timeout_s: float = 5.0) -> bool:
        return all(s.drain(timeout_s) for s in self.sinks.values())

    def add_secrets(self, values: Iterable[str]) -> None:
        """Values to redact from now on, e.g. ``url_secrets(<the resolved apprise URLs>)``."""
        self.scrubber.add(values)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for hid in self.handler_ids:
            with contextlib.suppress(ValueError):
                logger.remove(hid)  # stops the sink: what is queued is written first
        logger.configure(patcher=_no_patch)
        root = logging.getLogger()
        handler, level = self._std
        if handler is not None:
            root.removeHandler(handler)
            root.setLevel(level)
        sys.excepthook, threading.excepthook = self._hooks


def _no_patch(record: Record) -> None:
    return None


def log_path(template: str, symbols: Iterable[str]) -> str:
    """``{symbols}`` in the path becomes ``ETHUSDC-BTCUSDC``: one file per process when several run (one
    systemd instance per symbol set), since two processes rotating one file would tear it."""
    return template.replace("{symbols}", "-".join(symbols) or "engine")


def configure(settings: LogSettings, *, secrets: Iterable[str] = (), symbols: Iterable[str] = (),
              clock: Clock | None = None, console: TextIO | None = None, std_logging: bool = True) -> LogSetup:
    """Replace loguru's handlers with ours: the console (``console``, default stderr) and, when ``path`` is
    set, the JSON file; route standard logging and uncaught exceptions through them. ``secrets``: values
    that must never be written (the API key and secret, notification URLs: see ``url_secrets``)."""
    clk: Clock = clock or WallClock()
    out = None
    if settings.path:  # first: a file that cannot be opened (OSError) leaves the logging as it was
        out = RotatingFile(log_path(settings.path, symbols), max_bytes=int(settings.rotation_mb * 1024 * 1024),
                           keep_days=settings.retention_days, keep_files=settings.retention_files,
                           compress=settings.compression == "gz", clock=clk)
    scrubber = Scrubber(secrets)
    logger.remove()
    logger.configure(patcher=LogPatcher(scrubber))
    floor = lowest_level(settings)
    filt = module_filter(settings.level, dict(settings.modules))
    sinks: dict[str, BackgroundSink[Any]] = {}
    ids: list[int] = []
    stream = console if console is not None else sys.stderr

    def text_notice(msg: str) -> str:
        return f"{iso_utc(clk.time_ns(), ' ')} WARNING  {msg}\n"

    def json_notice(msg: str) -> bytes:
        return orjson.dumps({"ts": iso_utc(clk.time_ns()), "level": "WARNING", "msg": msg, "module": __name__},
                            option=orjson.OPT_APPEND_NEWLINE)

    sinks["console"] = BackgroundSink("console", lambda r: console_line(r, scrubber), StreamOut(stream),
                                      backlog=settings.backlog_lines, notice=text_notice)
    routes: list[tuple[int, BackgroundSink[Any]]] = [(max(LEVEL_NO[settings.console_level], floor), sinks["console"])]
    if out is not None:
        sinks["file"] = BackgroundSink("file", lambda r: json_line(r, scrubber), out,
                                       backlog=settings.backlog_lines, notice=json_notice)
        routes.append((max(LEVEL_NO[settings.file_level], floor), sinks["file"]))
    ids.append(logger.add(FanOut(routes), level=min(lv for lv, _ in routes), filter=filt, format="{message}",
                          colorize=False, backtrace=False, diagnose=False))
    root = logging.getLogger()
    std: tuple[logging.Handler | None, int] = (None, root.level)
    if std_logging:
        for h in [h for h in root.handlers if isinstance(h, InterceptHandler)]:
            root.removeHandler(h)  # an earlier configure's
        sink_floor = min(LEVEL_NO[settings.console_level], LEVEL_NO[settings.file_level] if settings.path else 99)
        std = (InterceptHandler(), root.level)
        root.addHandler(std[0])
        root.setLevel(max(floor, sink_floor))
    hooks = (sys.excepthook, threading.excepthook)
    if std_logging:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    return LogSetup(scrubber, sinks, ids, std, hooks)


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    logger.opt(exception=(exc_type, exc, tb)).critical("uncaught exception")


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logger.opt(exception=(args.exc_type, args.exc_value, args.exc_traceback)).critical(
        "uncaught exception in thread {}", name)
