"""The intent log: written before a send, read back after a crash, emptied once the journal has it."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from actors.oms.intents import IntentLog
from actors.store.models import LocalStatus
from actors.store.store import JournalOrder


def order(cid: str, state: str = '{"s":1}') -> JournalOrder:
    return JournalOrder(cid, "BUY", Decimal("2500.01"), Decimal("0.010"), "GTX", False, 123, "INTENT", None,
                        Decimal(0), False, state)


def test_appended_intents_read_back_exactly_and_clear_empties_the_file(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i.log")
    log.append([order("a"), order("b")])
    log.append([order("c", '{"x":"y"}')])
    got = IntentLog(tmp_path / "i.log").pending()  # another descriptor: what a restarted OMS sees
    assert [o.client_order_id for o in got] == ["a", "b", "c"]
    assert got[0].price == Decimal("2500.01") and got[0].qty == Decimal("0.010") and got[0].tif == "GTX"
    assert got[2].state_json == '{"x":"y"}' and all(o.status == LocalStatus.INTENT for o in got)
    log.clear()
    assert (tmp_path / "i.log").stat().st_size == 0 and log.pending() == []
    log.append([order("d")])  # appends after a clear start at the beginning again
    assert [o.client_order_id for o in log.pending()] == ["d"]
    log.close()


def test_a_torn_last_line_is_an_order_never_sent_and_is_skipped(tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "i.log")
    log.append([order("a")])
    fd = os.open(tmp_path / "i.log", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'{"cid": "b", "side": "BU')  # the process died inside the write
    os.close(fd)
    assert [o.client_order_id for o in log.pending()] == ["a"]
    log.close()


def test_the_file_is_private(tmp_path: Path) -> None:
    IntentLog(tmp_path / "sub" / "i.log").close()
    assert (tmp_path / "sub" / "i.log").stat().st_mode & 0o077 == 0
