"""The retention team's workbook (XLSX): the lists in the file they open, explained.

One sheet says how to read the others (every column, the as-of date, the horizon, the
currency, the model version); the list sheets have their header frozen, filters on,
money and percentages formatted. Sheets are streamed (openpyxl's write-only mode), so
memory stays flat however many customers there are.

The file is byte-for-byte reproducible: the document's timestamps are the as-of date,
not the moment it was written.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

# Excel's limit, header row included
MAX_ROWS = 1_048_576
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
HOW_TO_READ = "How to read this"


def _cell_value(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _width(frame: pd.DataFrame, column: str) -> float:
    sample = frame[column].head(200).astype(str)
    longest = max([len(column)] + sample.str.len().tolist())
    return float(min(max(longest + 2, 8), 60))


def _data_sheet(
    wb: Workbook,
    title: str,
    frame: pd.DataFrame,
    *,
    money: set[str],
    percent: set[str],
    dates: set[str],
    max_rows: int,
) -> int:
    ws = wb.create_sheet(title)
    columns = list(frame.columns)
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _width(frame, c)
    ws.freeze_panes = "A2"
    rows = frame.head(max_rows)
    last = get_column_letter(max(len(columns), 1))
    ws.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    header = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=c)
        cell.font = bold
        cell.fill = fill
        header.append(cell)
    ws.append(header)
    formats = {
        i: MONEY_FORMAT if c in money else PERCENT_FORMAT if c in percent else DATE_FORMAT
        for i, c in enumerate(columns)
        if c in money or c in percent or c in dates
    }
    for values in rows.itertuples(index=False, name=None):
        out = []
        for i, v in enumerate(values):
            v = _cell_value(v)
            if i in formats and v is not None:
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = formats[i]
                out.append(cell)
            else:
                out.append(v)
        ws.append(out)
    return len(rows)


def _how_to_read(
    wb: Workbook,
    about: Sequence[tuple[str, str]],
    columns: Mapping[str, str],
    sheets: Sequence[tuple[str, str]],
) -> None:
    ws = wb.create_sheet(HOW_TO_READ)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 110
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    def row(a: object, b: object = None, *, strong: bool = False) -> None:
        first = WriteOnlyCell(ws, value=a)
        if strong:
            first.font = bold
        second = WriteOnlyCell(ws, value=b)
        second.alignment = wrap
        ws.append([first, second])

    row("Retention lists", strong=True)
    for key, value in about:
        row(key, value)
    row(None)
    row("Sheet", "What it holds", strong=True)
    for name, text in sheets:
        row(name, text)
    row(None)
    row("Column", "Meaning", strong=True)
    for name, text in columns.items():
        row(name, text)


def workbook_bytes(
    sheets: Sequence[tuple[str, str, pd.DataFrame]],
    *,
    about: Sequence[tuple[str, str]],
    columns: Mapping[str, str],
    money: Sequence[str] = (),
    percent: Sequence[str] = (),
    dates: Sequence[str] = (),
    as_of: dt.datetime,
    max_rows: int | None = None,
) -> bytes:
    """Build the workbook: a "how to read this" sheet, then one sheet per list.

    Parameters
    ----------
    sheets
        ``(title, what it holds, frame)`` per data sheet, in order.
    about
        ``(key, value)`` lines for the first sheet: as-of date, horizon, currency, model
        version, ...
    columns
        Column name -> meaning, for the first sheet.
    money, percent, dates
        Columns to format as money (two decimals), percentages or dates.
    as_of
        The document's creation and modification time (keeps the bytes reproducible).
    max_rows
        Rows per sheet at most (Excel's limit if None or larger). A spreadsheet program
        and openpyxl both slow down long before Excel's limit; the CSVs hold every row.

    Returns
    -------
    bytes
        The XLSX file. A longer sheet keeps its first rows and says so on the first
        sheet.
    """
    limit = min(max_rows or MAX_ROWS - 1, MAX_ROWS - 1)
    wb = Workbook(write_only=True)
    notes = [
        (title, text)
        if len(frame) <= limit
        else (title, f"{text} (first {limit:,} of {len(frame):,} rows; every row is in the CSV)")
        for title, text, frame in sheets
    ]
    _how_to_read(wb, about, columns, notes)
    for title, _, frame in sheets:
        _data_sheet(
            wb,
            title,
            frame,
            money=set(money),
            percent=set(percent),
            dates=set(dates),
            max_rows=limit,
        )
    wb.properties.creator = "churn-loyalty pipeline"
    wb.properties.created = as_of
    buffer = io.BytesIO()
    wb.save(buffer)
    return _reproducible(buffer.getvalue(), as_of)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _reproducible(data: bytes, when: dt.datetime) -> bytes:
    """Same content, fixed timestamps: openpyxl stamps the save time into the file."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, content)
    return out.getvalue()
