"""tools/png.py: the PNG bytes are decoded by an independent reader here (chunks, CRCs, inflate, every filter
type) and the chart's pixels are checked against where the data must land."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from tools import png
from tools.png import FONT, GLYPH_H, GLYPH_W, PALETTE, WHITE, ZERO, Layout, Series, line_chart

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def decode_png(data: bytes) -> np.ndarray:
    """A minimal reader for 8-bit RGB, non-interlaced PNG, written from the specification."""
    assert data[:8] == SIGNATURE, "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data), "trailing bytes"
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, ctype, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride, bpp = w * 3, 3
    assert len(raw) == h * (stride + 1)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    for y in range(h):
        ftype, line = int(rows[y, 0]), rows[y, 1:]
        prev = out[y - 1] if y else np.zeros(stride, dtype=np.uint8)
        if ftype == 0:  # None
            out[y] = line
        elif ftype == 1:  # Sub: a running sum along each channel
            out[y] = (np.cumsum(line.reshape(w, bpp).astype(np.int64), axis=0) % 256).ravel()
        elif ftype == 2:  # Up
            out[y] = line + prev  # uint8: modulo 256
        elif ftype in (3, 4):  # Average, Paeth: each byte depends on the one just decoded
            cur = bytearray(stride)
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = int(prev[i]), (int(prev[i - bpp]) if i >= bpp else 0)
                pred = (a + b) // 2 if ftype == 3 else _paeth(a, b, c)
                cur[i] = (int(line[i]) + pred) & 0xFF
            out[y] = np.frombuffer(bytes(cur), dtype=np.uint8)
        else:
            raise AssertionError(f"bad filter type {ftype} in row {y}")
    return out.reshape(h, w, 3)


def colour(img: np.ndarray, row: int, col: int) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in img[row, col])
    return (r, g, b)


# A plot box of 101 x 51 pixels (columns 20..120, rows 10..60): data on a 0..10 grid lands on whole pixels.
SMALL = Layout(width=131, height=71, left=20, right=10, top=10, bottom=10, pad=0.0, thickness=1)


# ---------------------------------------------------------------------------------------------- encoding


def test_an_image_survives_the_round_trip_with_every_byte_value() -> None:
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)  # wraps in the Up filter both ways
    data = png.encode_png(img)
    assert np.array_equal(decode_png(data), img)
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (17, 13)


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError):
        png.encode_png(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        png.encode_png(np.zeros((4, 4, 3), dtype=np.float64))
    with pytest.raises(ValueError):
        png.encode_png(np.zeros((0, 4, 3), dtype=np.uint8))


def test_a_written_file_is_complete_and_leaves_no_temporary(tmp_path: Path) -> None:
    chart = line_chart([Series("A", [0, 1], [0, 1])])
    path = png.write_png(tmp_path / "sub" / "c.png", chart.pixels)
    assert np.array_equal(decode_png(path.read_bytes()), chart.pixels)
    assert [p.name for p in path.parent.iterdir()] == ["c.png"]


# ---------------------------------------------------------------------------------------------- charts


def test_a_diagonal_lands_on_the_pixels_the_data_says() -> None:
    chart = line_chart([Series("", [0, 10], [0, 10], color=PALETTE[1])], x_range=(0, 10), layout=SMALL)
    img = decode_png(chart.png())
    assert img.shape == (71, 131, 3)
    # y 0..10 (the range includes zero; no padding): 10 px per x unit, 5 px per y unit
    for x in range(11):
        assert colour(img, 60 - 5 * x, 20 + 10 * x) == PALETTE[1], x  # (0, 0) bottom left ... (10, 10) top right
    assert chart.axes is not None and chart.axes.px(5, 5) == (35, 70)
    assert colour(img, 15, 100) == WHITE and colour(img, 55, 40) == WHITE  # far from the line: background
    # every plotted column has exactly one line pixel (thickness 1), at the height the data says
    hits = np.all(img[10:61, 20:121] == PALETTE[1], axis=2)
    assert (hits.sum(axis=0) == 1).all()
    assert np.abs(np.argmax(hits, axis=0) - (50 - np.arange(101) / 2)).max() <= 0.5


def test_the_zero_line_and_a_flat_series() -> None:
    chart = line_chart([Series("", [0, 4], [3, 3], color=PALETTE[0]),
                        Series("", [0, 4], [-2, -2], color=PALETTE[2])], x_range=(0, 4), layout=SMALL)
    img = chart.pixels
    # y spans -2..3 (10 px per unit): 3 is the top row, -2 the bottom, 0 thirty pixels down
    assert all(colour(img, 10, c) == PALETTE[0] for c in range(20, 121))
    assert all(colour(img, 60, c) == PALETTE[2] for c in range(20, 121))
    assert all(colour(img, 40, c) == ZERO for c in range(20, 121))
    assert colour(img, 35, 70) == WHITE and colour(img, 45, 70) == WHITE


def test_a_step_series_holds_each_value_until_the_next_point() -> None:
    chart = line_chart([Series("", [0, 5, 10], [0, 10, 10], color=PALETTE[3], step=True)], x_range=(0, 10),
                       layout=SMALL)
    img, axes = chart.pixels, chart.axes
    assert axes is not None
    r0, c_before = axes.px(4.5, 0)
    assert colour(img, r0, c_before) == PALETTE[3]  # still 0 just before x = 5
    r10, c_step = axes.px(5, 10)
    assert colour(img, r10, c_step) == PALETTE[3]
    assert colour(img, axes.px(5, 5)[0], c_step) == PALETTE[3]  # the riser
    assert colour(img, axes.px(2, 5)[0], axes.px(2, 5)[1]) == WHITE  # no diagonal


def test_no_data_gives_a_chart_that_says_so() -> None:
    for series in ([], [Series("A", [], [])], [Series("A", [1.0, 2.0], [float("nan"), float("inf")])]):
        chart = line_chart(series, title="POSITION", layout=Layout(width=300, height=120))
        assert chart.axes is None
        img = decode_png(chart.png())
        assert img.shape == (120, 300, 3)
        middle = img[40:90, 100:200]
        assert (middle.sum(axis=2) < 200).sum() > 50  # the dark letters of NO DATA


def test_a_lone_point_is_visible_and_mismatched_series_are_refused() -> None:
    chart = line_chart([Series("", [3], [2], color=PALETTE[1])], x_range=(0, 10), layout=SMALL)
    assert chart.axes is not None
    row, col = chart.axes.px(3, 2)
    assert colour(chart.pixels, row, col) == PALETTE[1]
    with pytest.raises(ValueError):
        line_chart([Series("", [1, 2], [1])])


def test_text_is_drawn_from_the_bitmap_font() -> None:
    img = np.full((9, 14, 3), 255, dtype=np.uint8)
    png.draw_text(img, 1, 1, "1a", (0, 0, 0))
    ink = img.sum(axis=2) == 0
    assert np.array_equal(ink[1:1 + GLYPH_H, 1:1 + GLYPH_W], FONT["1"])
    assert np.array_equal(ink[1:1 + GLYPH_H, 7:7 + GLYPH_W], FONT["A"])  # lower case drawn as capitals
    assert not ink[0].any() and not ink[:, 0].any()


def test_title_and_legend_go_in_the_top_margin_in_the_series_colour() -> None:
    lay = Layout(width=400, height=150)
    chart = line_chart([Series("ETHUSDC", [0, 1], [0, 1], color=PALETTE[1])], title="NET PNL", layout=lay)
    margin = chart.pixels[:lay.top - 1]
    assert np.all(margin == PALETTE[1], axis=2).sum() > 30  # swatch and label
    assert (margin.sum(axis=2) == 0).sum() > 30  # the black title
