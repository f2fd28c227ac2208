"""The file watcher on real files (content changes count; a touch does not; replace-by-rename is seen) and
the SIGHUP flag with a real signal."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from actors.clock import SimClock
from actors.config.watcher import ConfigWatcher, ReloadRequest, install_reload_signal


def test_a_content_change_is_seen_once(tmp_path: Path) -> None:
    p = tmp_path / "settings.toml"
    p.write_text("[strategy]\nmin_spread_bps = 10.0\n")
    w = ConfigWatcher(p)
    assert not w.changed()
    p.write_text("[strategy]\nmin_spread_bps = 12.0\n")  # same size, other bytes
    assert w.changed()
    assert not w.changed()
    p.write_text("[strategy]\nmin_spread_bps = 12.0\nlevels = 2\n")
    assert w.changed()


def test_a_touch_or_the_same_bytes_written_again_is_not_a_change(tmp_path: Path) -> None:
    p = tmp_path / "settings.toml"
    p.write_text("[risk]\nmax_inventory = \"0.1\"\n")
    w = ConfigWatcher(p)
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns + 5_000_000_000, st.st_mtime_ns + 5_000_000_000))
    assert not w.changed()
    p.write_text("[risk]\nmax_inventory = \"0.1\"\n")
    assert not w.changed()


def test_an_editors_save_by_rename_is_seen_and_the_gap_between_is_not_a_change(tmp_path: Path) -> None:
    p = tmp_path / "settings.toml"
    p.write_text("[oms]\nplaces_per_s = 5\n")
    w = ConfigWatcher(p)
    tmp = tmp_path / ".settings.toml.swp"
    tmp.write_text("[oms]\nplaces_per_s = 3\n")
    p.unlink()  # vim-style: the old file goes, then the new one is renamed into place
    assert not w.changed()
    os.replace(tmp, p)
    assert w.changed()
    # a rename that brings back the very same content is no change
    same = tmp_path / "copy"
    same.write_text("[oms]\nplaces_per_s = 3\n")
    os.replace(same, p)
    assert not w.changed()


def test_changes_are_seen_on_the_fast_path_too_when_the_file_is_old(tmp_path: Path) -> None:
    """Far from its mtime (not "racy"), only a changed stat leads to a read: every write still changes it."""
    p = tmp_path / "settings.toml"
    p.write_text("a = 1\n")
    w = ConfigWatcher(p, clock=SimClock(4_000_000_000_000_000_000))
    assert not w.changed()
    p.write_text("a = 2\n")
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))  # even with the mtime (and size) of before
    assert w.changed()


def test_a_file_missing_at_first_counts_as_changed_when_it_appears(tmp_path: Path) -> None:
    p = tmp_path / "settings.toml"
    w = ConfigWatcher(p)
    assert w.digest is None and not w.changed()
    p.write_text("x = 1\n")
    assert w.changed() and w.digest is not None


def test_sighup_sets_the_reload_flag() -> None:
    request = ReloadRequest()
    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert install_reload_signal(request)
        assert not request.consume()
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(1000):  # the handler runs on this thread when the interpreter next checks for signals
            if request.is_set():
                break
        assert request.consume()
        assert not request.consume()
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_the_installer_is_a_no_op_off_the_main_thread() -> None:
    request, result = ReloadRequest(), []
    previous = signal.getsignal(signal.SIGHUP)
    t = threading.Thread(target=lambda: result.append(install_reload_signal(request)))
    t.start()
    t.join()
    assert result == [False]
    assert signal.getsignal(signal.SIGHUP) is previous
