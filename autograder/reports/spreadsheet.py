"""The one owner of CSV files the kit writes (grades.csv, canvas.csv, grades_long.csv): cells a spreadsheet shows as
text.

Submission names, messages and roster names come from students: ``=HYPERLINK(...)`` or ``@SUM(...)``
would run when the instructor opens the file in Excel or LibreOffice (CSV injection). Every writer
uses ``writer`` here, which

- quotes every field (``csv.QUOTE_ALL``), so that no separator inside a field splits it, whichever
  separator (``,`` or ``;``, as in many European locales) the spreadsheet is told to use;
- puts an apostrophe before a formula character (OWASP's rule: ``= + - @``, tab, carriage return)
  at the start of every text field, and also after every character a reader might split a field at
  (``,`` ``;`` tab, line break), so that a reader that ignores the quotes still gets no cell starting
  with a formula. The apostrophe keeps the text readable; numbers stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import TextIO

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A formula character after a separator (and any spaces): where a reader that splits on it would start a cell.
_AFTER_SEPARATOR = re.compile(r"([,;\t\n][ ]*)([=+\-@])")


def safe_cell(value: object) -> object:
    """``value`` as a cell no spreadsheet runs as a formula (text only; numbers and None are left alone)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_PREFIXES):
        value = "'" + value
    # With lineterminator "\n", the csv writer of Python 3.11 leaves a lone "\r" unquoted, which breaks the row
    # for every reader; as "\n" it is quoted and reads back as a line break.
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _AFTER_SEPARATOR.sub(r"\1'\2", value)


class _SafeWriter:
    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def writer(stream: TextIO) -> _SafeWriter:
    """A ``csv.writer``-like object for ``stream`` whose every row is quoted and formula-safe (see the module)."""
    return _SafeWriter(stream)
