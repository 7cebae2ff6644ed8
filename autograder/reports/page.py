"""The skeleton shared by the HTML reports: one self-contained file, nothing fetched.

Styles are inline and images are ``data:`` URIs, and the page's Content-Security-Policy
forbids loading anything else, so a report opens the same offline, from an LMS or from
an e-mail attachment.
"""

from __future__ import annotations

from html import escape

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { padding: 0.25rem 0.6rem; border: 1px solid #ddd; text-align: left; vertical-align: top; }
td { word-break: break-word; } .table-scroll { overflow-x: auto; max-width: 100%; }
ul.flags { margin: 0; padding-left: 1.1rem; } ul.legend { font-size: 0.9rem; color: #444; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .note { color: #555; font-style: italic; }
.message { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5rem 0.8rem; white-space: pre-wrap; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 0.3rem 0; }
img { max-width: 100%; height: auto; }
"""


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def image(data_uri: str, alt: str) -> str:
    return f'<p><img src="{data_uri}" alt="{escape(alt)}"></p>'


def scrolling(table: str) -> str:
    """Wrap a wide table so that it scrolls inside the page instead of widening it."""
    return f'<div class="table-scroll">{table}</div>'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'
