"""Reading raw Binance captures: gzip text, one ``<local_receive_ns> <json>`` per line.

That is the format of the hftbacktest collector files in ../shared/data; a JSON without ``stream`` is the REST
depth snapshot, written where its reply arrived. Replay, tests and benchmarks all read captures through here.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path


def read_capture(paths: Iterable[str | Path]) -> Iterator[tuple[int, str]]:
    """(receive ns, raw JSON text) for each line of each file, in order; files are chained."""
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                ts, sep, raw = line.partition(" ")
                if not sep or not ts.isdigit():
                    raise ValueError(f"{path}:{lineno}: not '<receive_ns> <json>'")
                yield int(ts), raw


def is_snapshot(raw: str) -> bool:
    """The collector writes REST snapshots bare; every stream frame has a ``stream`` envelope."""
    return raw.startswith('{"lastUpdateId"')
