"""One self-contained HTML page: the summary and the plots first, then the tables (significant
cells coloured as mmtests' HTML output does, ``PrintHtml.pm:62-70``: green ``#A0FFA0`` when
better, red ``#FFA0A0`` when worse), then the run metadata.  Plots are inlined as SVG; nothing is
loaded from elsewhere."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

_STAR = re.compile(r"\*( *)(-?\d+\.\d+)%\*")

_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:80em}"
    "pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:85%}"
    "figure{margin:.8em 0}figure svg{max-width:100%;height:auto}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.15em .6em;text-align:right;font-size:90%}"
    "th:first-child{text-align:left}caption{text-align:left;font-weight:bold;padding:.3em 0}"
    "table.meta td{text-align:left;font-family:monospace}"
)


def _colour_stars(escaped: str) -> str:
    def sub(m: re.Match[str]) -> str:
        colour = "#A0FFA0" if float(m.group(2)) > 0 else "#FFA0A0"
        return f'<span style="background:{colour}">{m.group(0)}</span>'

    return _STAR.sub(sub, escaped)


def _inline_svg(svg: bytes) -> str:
    text = svg.decode()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def metadata_table(meta: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in meta.items())
    return f'<table class="meta"><tbody>{rows}</tbody></table>'


def page(
    title: str,
    intro: str,
    sections: Sequence[tuple[str, str]],
    figures: Sequence[tuple[str, bytes]],
    summary_html: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """``sections``: (heading, preformatted text); ``figures``: (caption, SVG bytes);
    ``summary_html``: a fragment shown first; ``metadata``: name -> value, shown last."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(intro)}</p>",
    ]
    if summary_html:
        parts.append(summary_html)
    for caption, svg in figures:
        parts.append(f"<figure>{_inline_svg(svg)}<figcaption>{html.escape(caption)}"
                     "</figcaption></figure>")
    for heading, text in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f"<pre>{_colour_stars(html.escape(text))}</pre>")
    if metadata:
        parts.append("<h2>run metadata</h2>")
        parts.append(metadata_table(metadata))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
