"""A small line-chart renderer and PNG encoder: numpy for the pixels, zlib and struct for the file.

No plotting library (the report runs inside the engine's process and must stay small): a chart is a white
RGB array with a framed plot area, a grey zero line, vertical grid lines at the given x ticks, each series
as a 2-pixel line, and labels (title, legend, y max/min/0, x ticks) in a built-in 5x7 bitmap font that
knows digits, capital letters and a little punctuation. A chart without data says NO DATA.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
FRAME: RGB = (110, 110, 110)
GRID: RGB = (232, 232, 232)
ZERO: RGB = (150, 150, 150)
TEXT: RGB = (40, 40, 40)
PALETTE: tuple[RGB, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
                            (140, 86, 75), (227, 119, 194), (23, 190, 207))

GLYPH_W, GLYPH_H = 5, 7
_FONT_ROWS = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "|": ("..#..",) * 7,
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
    " ": (".....",) * 7,
}
FONT = MappingProxyType({ch: np.array([[c == "#" for c in row] for row in rows], dtype=bool)
                         for ch, rows in _FONT_ROWS.items()})


# ---------------------------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgb: np.ndarray, *, level: int = 6) -> bytes:
    """An 8-bit RGB image (height x width x 3, uint8) as PNG bytes.

    Every row uses the "Up" filter (the difference to the row above): a chart's rows mostly repeat the one
    above, so they become runs of zeros that deflate to almost nothing.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected a height x width x 3 uint8 array, got {rgb.dtype} {rgb.shape}")
    h, w, _ = rgb.shape
    if not (0 < h < 2**31 and 0 < w < 2**31):
        raise ValueError(f"bad image size {w}x{h}")
    rows = rgb.reshape(h, w * 3)
    up = rows.copy()
    up[1:] = rows[1:] - rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter is defined
    raw = np.hstack([np.full((h, 1), 2, dtype=np.uint8), up])
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, deflate, adaptive filters, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
            + _chunk(b"IEND", b""))


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write atomically (a reader, such as an alert attaching the file, never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(encode_png(rgb))
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- drawing


def text_width(text: str, scale: int = 1) -> int:
    return max(0, len(text) * (GLYPH_W + 1) * scale - scale)


def draw_text(img: np.ndarray, x: int, y: int, text: str, color: RGB, scale: int = 1) -> None:
    """Text with its top-left corner at (x, y); lower case is drawn as capitals, unknown characters as ``?``."""
    h, w, _ = img.shape
    for i, ch in enumerate(text.upper()):
        glyph = FONT.get(ch, FONT["?"])
        if scale > 1:
            glyph = glyph.repeat(scale, axis=0).repeat(scale, axis=1)
        gx = x + i * (GLYPH_W + 1) * scale
        rows, cols = np.nonzero(glyph)
        rows, cols = rows + y, cols + gx
        keep = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        img[rows[keep], cols[keep]] = color


def _segments(cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pixel on the straight segments between consecutive points (vectorised DDA)."""
    if len(cols) == 1:
        return np.floor(cols + 0.5).astype(np.int64), np.floor(rows + 0.5).astype(np.int64)
    dc, dr = np.diff(cols), np.diff(rows)
    n = np.ceil(np.maximum(np.abs(dc), np.abs(dr))).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(n)), n)
    offsets = np.concatenate(([0], np.cumsum(n)[:-1]))
    t = (np.arange(n.sum()) - offsets[seg]) / np.maximum(n[seg] - 1, 1)
    c, r = cols[:-1][seg] + dc[seg] * t, rows[:-1][seg] + dr[seg] * t
    return np.floor(c + 0.5).astype(np.int64), np.floor(r + 0.5).astype(np.int64)


def _label(v: float) -> str:
    if v == 0:
        return "0"
    text = f"{v:.5g}"
    return text if "e" not in text else f"{v:.2e}"


# ---------------------------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: RGB = PALETTE[0]
    step: bool = False  # each value holds until the next point (a position, a cumulative sum)


@dataclass(frozen=True)
class Layout:
    width: int = 900
    height: int = 320
    left: int = 74  # room for the y labels
    right: int = 14
    top: int = 24  # title and legend
    bottom: int = 22  # x tick labels
    pad: float = 0.05  # share of the y span added above and below the data
    thickness: int = 2


@dataclass(frozen=True)
class Axes:
    """Data ranges and the plot box in pixels; ``px`` is where a data point lands."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: int
    top: int
    width: int
    height: int

    def col(self, x: float | np.ndarray) -> np.ndarray:
        return np.asarray(self.left + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0)
                          * (self.width - 1), dtype=float)

    def row(self, y: float | np.ndarray) -> np.ndarray:
        return np.asarray(self.top + (self.y1 - np.asarray(y, dtype=float)) / (self.y1 - self.y0)
                          * (self.height - 1), dtype=float)

    def px(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) of a data point."""
        return math.floor(float(self.row(y)) + 0.5), math.floor(float(self.col(x)) + 0.5)


@dataclass(frozen=True, eq=False)
class Chart:
    pixels: np.ndarray  # height x width x 3, uint8
    axes: Axes | None  # None: there was no data
    layout: Layout = field(default_factory=Layout)

    def png(self) -> bytes:
        return encode_png(self.pixels)


def _clean(s: Series) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(s.xs, dtype=float), np.asarray(s.ys, dtype=float)
    if xs.shape != ys.shape:
        raise ValueError(f"series {s.label!r}: {len(xs)} x values but {len(ys)} y values")
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if s.step and len(xs) > 1:  # a staircase: hold each value until the next x
        xs = np.repeat(xs, 2)[1:]
        ys = np.repeat(ys, 2)[:-1]
    return xs, ys


def line_chart(series: Sequence[Series], *, title: str = "", x_range: tuple[float, float] | None = None,
               x_ticks: Sequence[tuple[float, str]] = (), layout: Layout | None = None) -> Chart:
    """Render lines on shared axes; the y range always includes zero, so the zero line is always there."""
    lay = layout or Layout()
    w, h = lay.width, lay.height
    pw, ph = w - lay.left - lay.right, h - lay.top - lay.bottom
    if pw < 10 or ph < 10:
        raise ValueError(f"a {w}x{h} chart leaves no room to plot")
    img = np.full((h, w, 3), WHITE, dtype=np.uint8)
    data = [(s, *_clean(s)) for s in series]
    data = [(s, xs, ys) for s, xs, ys in data if len(xs)]
    _legend(img, lay, title, [s for s, _, _ in data])
    frame = (slice(lay.top - 1, lay.top + ph + 1), slice(lay.left - 1, lay.left + pw + 1))
    img[frame[0], lay.left - 1] = img[frame[0], lay.left + pw] = FRAME
    img[lay.top - 1, frame[1]] = img[lay.top + ph, frame[1]] = FRAME
    if not data:
        msg, scale = "NO DATA", 3
        draw_text(img, lay.left + (pw - text_width(msg, scale)) // 2, lay.top + (ph - GLYPH_H * scale) // 2, msg,
                  TEXT, scale)
        return Chart(img, None, lay)

    all_x = np.concatenate([xs for _, xs, _ in data])
    all_y = np.concatenate([ys for _, _, ys in data])
    x0, x1 = x_range if x_range is not None else (float(all_x.min()), float(all_x.max()))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x0 + 0.5
    lo, hi = min(0.0, float(all_y.min())), max(0.0, float(all_y.max()))
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    span = hi - lo
    axes = Axes(x0, x1, lo - span * lay.pad, hi + span * lay.pad, lay.left, lay.top, pw, ph)

    for x, text in x_ticks:
        if x0 <= x <= x1:
            c = math.floor(float(axes.col(x)) + 0.5)
            img[lay.top:lay.top + ph, c] = GRID
            draw_text(img, min(max(c - text_width(text) // 2, 0), w - text_width(text)), lay.top + ph + 6, text,
                      TEXT)
    zero_row, _ = axes.px(x0, 0.0)
    img[zero_row, lay.left:lay.left + pw] = ZERO
    top_row, bottom_row = axes.px(x0, hi)[0], axes.px(x0, lo)[0]
    labels = [(top_row, _label(hi)), (bottom_row, _label(lo))]
    if min(abs(zero_row - top_row), abs(zero_row - bottom_row)) >= GLYPH_H + 2:
        labels.append((zero_row, "0"))
    for r, text in labels:
        draw_text(img, max(lay.left - 4 - text_width(text), 0), min(max(r - GLYPH_H // 2, 0), h - GLYPH_H), text,
                  TEXT)

    for s, xs, ys in data:
        cols, rows = _segments(axes.col(xs), axes.row(ys))
        if len(xs) == 1:  # a lone point: a small square, so that it shows
            cols = (cols[:, None] + np.array([-1, 0, 1, -1, 0, 1, -1, 0, 1])).ravel()
            rows = (rows[:, None] + np.array([-1, -1, -1, 0, 0, 0, 1, 1, 1])).ravel()
        for dr in range(lay.thickness):
            for dc in range(lay.thickness):
                r, c = rows + dr, cols + dc
                keep = (r >= lay.top) & (r < lay.top + ph) & (c >= lay.left) & (c < lay.left + pw)
                img[r[keep], c[keep]] = s.color
    return Chart(img, axes, lay)


def _legend(img: np.ndarray, lay: Layout, title: str, series: Sequence[Series]) -> None:
    y = (lay.top - GLYPH_H) // 2
    x = lay.left
    if title:
        draw_text(img, x, y, title, BLACK)
        x += text_width(title) + 18
    for s in series:
        if not s.label:
            continue
        need = 14 + text_width(s.label) + 14
        if x + need > img.shape[1] - lay.right:
            break
        img[y + 2:y + 5, x:x + 10] = s.color
        draw_text(img, x + 14, y, s.label, s.color)
        x += need


def lighter(color: RGB, amount: float = 0.55) -> RGB:
    """The colour mixed with white: a companion line of the same series."""
    r, g, b = (round(c + (255 - c) * amount) for c in color)
    return (r, g, b)
