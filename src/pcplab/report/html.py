"""One self-contained HTML page: the tables (significant cells coloured as mmtests' HTML output
does, ``PrintHtml.pm:62-70``: green ``#A0FFA0`` when better, red ``#FFA0A0`` when worse) and the
plots inlined as SVG."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

_STAR = re.compile(r"\*( *)(-?\d+\.\d+)%\*")


def _colour_stars(escaped: str) -> str:
    def sub(m: re.Match[str]) -> str:
        colour = "#A0FFA0" if float(m.group(2)) > 0 else "#FFA0A0"
        return f'<span style="background:{colour}">{m.group(0)}</span>'

    return _STAR.sub(sub, escaped)


def _inline_svg(svg: bytes) -> str:
    text = svg.decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def page(
    title: str,
    intro: str,
    sections: Sequence[tuple[str, str]],
    figures: Sequence[tuple[str, bytes]],
) -> str:
    """``sections``: (heading, preformatted text); ``figures``: (caption, SVG bytes)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:75em}"
        "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:90%}"
        "figure{margin:1em 0}figure svg{max-width:100%;height:auto}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(intro)}</p>",
    ]
    for heading, text in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f"<pre>{_colour_stars(html.escape(text))}</pre>")
    for caption, svg in figures:
        parts.append(f"<figure>{_inline_svg(svg)}<figcaption>{html.escape(caption)}"
                     "</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
