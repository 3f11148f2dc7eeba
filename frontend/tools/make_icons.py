"""Draw the PWA icons (run once; the PNGs are committed): python frontend/tools/make_icons.py

Pure standard library (zlib + struct), so no imaging package is needed. The mark is three
rounded bars of different heights, white on the theme blue: voices in a chorus. "any" icons
have rounded corners; the maskable one is full-bleed with the mark inside the central safe
zone (a circle of 80 % of the size), as the maskable-icon spec asks.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (0x1D, 0x4F, 0x91)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 3  # supersampling per axis, for smooth edges
HERE = Path(__file__).resolve().parents[1] / "icons"


def inside_rounded(x: float, y: float, box: tuple[float, float, float, float], r: float) -> bool:
    left, top, right, bottom = box
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + r), right - r)
    cy = min(max(y, top + r), bottom - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def bars(scale: float, size: int) -> list[tuple[float, float, float, float]]:
    """Three bars centred in the icon, `scale` of its size wide and tall."""
    width = size * scale
    bar = width / 5
    gap = (width - 3 * bar) / 2
    left = (size - width) / 2
    mid = size / 2
    heights = (0.55, 1.0, 0.75)
    return [
        (
            left + i * (bar + gap),
            mid - width * h / 2,
            left + i * (bar + gap) + bar,
            mid + width * h / 2,
        )
        for i, h in enumerate(heights)
    ]


def draw(size: int, maskable: bool) -> bytes:
    corner = 0 if maskable else size * 0.18
    marks = bars(0.42 if maskable else 0.56, size)
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            bg = fg = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = px + (sx + 0.5) / SAMPLES
                    y = py + (sy + 0.5) / SAMPLES
                    if maskable or inside_rounded(x, y, (0, 0, size, size), corner):
                        bg += 1
                        if any(inside_rounded(x, y, m, (m[2] - m[0]) / 2) for m in marks):
                            fg += 1
            total = SAMPLES * SAMPLES
            alpha = bg / total
            mix = fg / bg if bg else 0.0
            colour = [round(BLUE[i] * (1 - mix) + WHITE[i] * mix) for i in range(3)]
            row += bytes([*colour, round(alpha * 255)])
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        (HERE / name).write_bytes(draw(size, maskable))
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
