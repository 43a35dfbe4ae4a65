"""The band chart as a PNG (issue 24): a bar per score band, approved and rejected stacked,
the suggested threshold marked. Pillow only, from the extra `charts` (matplotlib is 177 MB
installed, plotly needs Chrome); importing this module without it raises ImportError, which
callers take as "no chart", so the core install never needs it.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from match_staging.stats import Report

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 36, 40  # the plot's margins: axis labels, title
APPROVED = (46, 160, 67)
REJECTED = (214, 39, 40)
OTHER = (200, 200, 200)  # staged, not decided
MARK = (31, 119, 180)
INK = (40, 40, 40)


def png(report: Report) -> bytes:
    """The chart of `report`'s bands, WIDTH x HEIGHT, as PNG bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    bands = list(report.bands)
    tallest = max((b.counts["staged"] for b in bands), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bands), 1)
    base = TOP + plot_h
    draw.text((LEFT, 10), "Entscheidungen je Score-Band", fill=INK, font=font)
    draw.line((LEFT, base, WIDTH - RIGHT, base), fill=INK)
    draw.text((8, TOP), str(tallest), fill=INK, font=font)
    draw.text((8, base - 10), "0", fill=INK, font=font)
    for index, band in enumerate(bands):
        x0 = LEFT + index * slot + slot * 0.15
        x1 = LEFT + (index + 1) * slot - slot * 0.15
        y = float(base)
        for count, colour in (
            (band.approved, APPROVED),
            (band.rejected, REJECTED),
            (band.counts["staged"] - band.approved - band.rejected, OTHER),
        ):
            if count > 0:
                height = count / tallest * plot_h
                draw.rectangle((x0, y - height, x1, y), fill=colour)
                y -= height
        draw.text((LEFT + index * slot + 2, base + 6), band.label, fill=INK, font=font)
    if report.suggestion is not None:
        lows = [b.low for b in bands]
        if report.suggestion.threshold in lows:
            x = LEFT + lows.index(report.suggestion.threshold) * slot
            for y0 in range(TOP, base, 8):  # dashed
                draw.line((x, y0, x, min(y0 + 4, base)), fill=MARK, width=2)
            label = f"Vorschlag: ab {report.suggestion.threshold}"
            draw.text((x + 4, TOP - 14), label, fill=MARK, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
