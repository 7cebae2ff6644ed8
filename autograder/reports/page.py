"""The skeleton shared by the HTML reports: one self-contained file, nothing fetched, readable by everyone.

Styles are inline and images are ``data:`` URIs, and the page's Content-Security-Policy
forbids loading anything else, so a report opens the same offline, from an LMS or from
an e-mail attachment.

Readable by everyone (checked with axe-core and screenshots in ``tests/test_browser.py``): the
content sits in one ``<main>``, every plot has its numbers as a table behind a ``<details>``,
a pass or a fail is said in words as well as by colour and mark, and numbers and statuses never
wrap. Prose keeps a reading width; a ``wide`` page (the class summary) gives its tables the
whole window, and a table wider than the window scrolls in its own keyboard-reachable box.
"""

from __future__ import annotations

import re
from html import escape

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
READING_WIDTH = "60rem"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: READING; padding: 0 1rem; color: #222;
  line-height: 1.45; }
body.wide { max-width: none; } body.wide main > :not(.table-scroll) { max-width: READING; }
h1 { font-size: 1.6rem; line-height: 1.25; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.6rem; border: 1px solid #ddd; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; } p, li, .message, td.text { overflow-wrap: anywhere; }
.table-scroll { overflow-x: auto; max-width: 100%; } table.full { width: 100%; }
td.text { min-width: 12rem; width: 30%; }
td.student { min-width: 13rem; }
ul.flags { margin: 0; padding-left: 1.1rem; } ul.legend { font-size: 0.9rem; color: #444; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.number, td.status, .nowrap { white-space: nowrap; }
.pass { color: #1a7f37; } .fail { color: #b3261e; } .info { color: #444; } .note { color: #555; font-style: italic; }
.file { display: block; font-size: 0.8rem; font-weight: normal; color: #555; } .late { font-weight: 600; }
.message { background: #fff8e1; border-left: 4px solid #9a6700; padding: 0.5rem 0.8rem; white-space: pre-wrap; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 0.3rem 0; }
caption { text-align: left; font-weight: 600; } details { margin: 0.5rem 0; }
summary { cursor: pointer; color: #0550ae; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
img { max-width: 100%; height: auto; }
@media (max-width: 40rem) { body { padding: 0 0.6rem; } td.student { min-width: 9rem; } }
""".replace("READING", READING_WIDTH)


def page(title: str, body: str, *, wide: bool = False) -> str:
    """The whole document; ``wide`` lets tables use the window's width while prose keeps a reading width."""
    body_tag = '<body class="wide">' if wide else "<body>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"{body_tag}\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def image(data_uri: str, alt: str) -> str:
    return f'<p><img src="{data_uri}" alt="{escape(alt)}"></p>'


def scrolling(table: str, label: str) -> str:
    """Wrap a wide table so that it scrolls inside the page instead of widening it.

    The box is a labelled region that takes the keyboard's focus, so it can be scrolled without a mouse.
    """
    return f'<div class="table-scroll" role="region" aria-label="{escape(label)}" tabindex="0">{table}</div>'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def disclosure(summary: str, content: str) -> str:
    """``content`` (a plot's numbers, as a table) behind a click: there for whoever needs it, out of the way
    otherwise."""
    return f"<details><summary>{escape(summary)}</summary>{content}</details>"


def data_table(css: str, header: list[str], rows: list[list[str]], *, row_headers: bool = True,
               caption: str = "") -> str:
    """A plain table of already-formatted values: the text equivalent of a plot. Every cell is escaped here.

    With ``row_headers``, each row's first cell is its header (``<th scope="row">``); the other cells are numbers.
    """
    head = "".join(f'<th scope="col"{NUMBER if i else ""}>{escape(h)}</th>' for i, h in enumerate(header))
    body = []
    for row in rows:
        first = f'<th scope="row">{escape(row[0])}</th>' if row_headers else f'<td class="number">{escape(row[0])}</td>'
        body.append("<tr>" + first + "".join(f'<td class="number">{escape(cell)}</td>' for cell in row[1:]) + "</tr>")
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return scrolling(f'<table class="{escape(css)}">{title}<thead><tr>{head}</tr></thead>'
                     f'<tbody>{"".join(body)}</tbody></table>', caption or css)


NUMBER = ' class="number"'
_BREAKS = re.compile(r"([_/.\-])")


def breakable(name: str) -> str:
    """``name`` escaped, with a line-break opportunity after each ``_ / . -``.

    File names like ``hoppergrace_LATE_48215_9001003_fashion_mnist_keras.ipynb`` hold no space: without
    these, they either widen their column past the window or, forced, break at any letter.
    """
    return "".join(escape(part) + ("<wbr>" if _BREAKS.fullmatch(part) else "") for part in _BREAKS.split(name) if part)


def mark(passed: bool, points: int) -> str:
    """A check's mark, said in words as well as by mark and colour (a check worth no points is feedback only)."""
    if points == 0:
        symbol, css, words = (("&#10004;", "info", "feedback only, passed") if passed
                              else ("&#10008;", "fail", "feedback only, not passed"))
    else:
        symbol, css, words = ("&#10004;", "pass", "passed") if passed else ("&#10008;", "fail", "failed")
    return f'<span class="{css}" aria-hidden="true">{symbol}</span> <span class="visually-hidden">{words}: </span>'
