"""CSV files the atlas writes, safe to open in a spreadsheet: the one place that writes them.

Every text cell that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`, `@`,
a tab or a carriage return: OWASP's rule for CSV injection) gets a leading `'`, which Excel and
LibreOffice show as text and never run. Files start with a UTF-8 byte order mark, so Excel reads
umlauts right. Two flavours: plain CSV (`,`, the column names the import reads back) and the
"Excel" flavour for German spreadsheets (`;`, German column names, decimal comma, ja/nein).

`restore` undoes the neutralising when the atlas reads a CSV back (`atlas import`), so a name
that really starts with "-" or "@" survives an export and import unchanged: a cell is prefixed
when it starts with any number of `'` and then one of those characters, and reading takes one
`'` off exactly such cells, so every text goes out and comes back as it was. A hand-made file's
"'s Gravenhage" (a quote not followed by one of those characters) is read as written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BOM = "\ufeff"
#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RISKY = re.compile(r"^'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")


def neutralise(text: str) -> str:
    """The cell as written: a text a spreadsheet would run as a formula gets a leading `'`."""
    return "'" + text if _RISKY.match(text) else text


def restore(text: str) -> str:
    """The text a neutralised cell stood for (the inverse of `neutralise`)."""
    return text[1:] if _NEUTRALISED.match(text) else text


@dataclass(frozen=True)
class Flavour:
    """How a file is laid out: separator, and whether it is the German spreadsheet variant."""

    delimiter: str
    german: bool

    def cell(self, value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return ("ja" if value else "nein") if self.german else ("true" if value else "false")
        if isinstance(value, (int, float)):
            # Numbers are the atlas's own (counts, rates, coordinates): never neutralised, so a
            # negative figure stays a number.
            text = str(value)
            return text.replace(".", ",") if self.german and isinstance(value, float) else text
        return neutralise(str(value))


CSV = Flavour(",", german=False)
EXCEL = Flavour(";", german=True)
FLAVOURS = {"csv": CSV, "excel": EXCEL}


class Table:
    """A CSV writer on a text stream: the byte order mark, a header row, then rows of cells.

    `labels` maps column names to the German headers of the Excel flavour (a missing one keeps
    its name)."""

    def __init__(
        self,
        out,
        columns: list[str],
        flavour: Flavour = CSV,
        labels: Mapping[str, str] | None = None,
    ):
        self.columns = columns
        self.flavour = flavour
        out.write(BOM)
        self._writer = csv.writer(out, delimiter=flavour.delimiter, lineterminator="\n")
        header = [(labels or {}).get(c, c) for c in columns] if flavour.german else columns
        self._writer.writerow([neutralise(h) for h in header])

    def row(self, values: Iterable) -> None:
        self._writer.writerow([self.flavour.cell(v) for v in values])

    def record(self, record: Mapping) -> None:
        """A row from a mapping by column name (a missing column is empty)."""
        self.row(record.get(c) for c in self.columns)

    def records(self, records: Iterable[Mapping]) -> None:
        for record in records:
            self.record(record)
