"""Reading an old system's export files for 植入 (app/legacy_import.py): CSV in UTF-8 (with or without BOM)
or GBK/GB18030, XLSX, and the time stamps old Chinese systems wrote.

Nothing here knows what the columns mean; it turns bytes into rows of cells, each row with the line it came
from, and says which rows could not be read, so that every row read can be accounted for in the report.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.timeutil import TZ

# A row whose bytes did not decode keeps them as lone surrogates (errors="surrogateescape"): this finds them.
_UNDECODED = re.compile("[\udc80-\udcff]")
_UTF8_WIDE = re.compile("[\u0800-\ud7ff\ue000-\uffff]")
_WIDE = re.compile("[^\x00-\x7f\udc80-\udcff]")
# Below this share of undecodable non-ASCII bytes a file is read in the encoding that fits best and only the
# rows holding the bad bytes are set aside; above it the file as a whole is unreadable.
MAX_BAD_SHARE = 0.25
GB2312_SHARE = 0.9
_BLANKS = " \t\r\n\u3000\ufeff"   # \u3000: the full-width space old forms pad with


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; `reason` is a report reason code, `lines` the data rows it held."""

    def __init__(self, reason: str, lines: list[int], **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.lines = lines
        self.params = params


@dataclass
class Sheet:
    """The rows of one export file: the header, then each data row with its line (1 = the header)."""

    name: str
    encoding: str                       # utf-8 | utf-8-sig | gb18030 | xlsx
    header: list[str]
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    undecodable: set[int] = field(default_factory=set)   # lines holding bytes the encoding could not read


# -- encodings -------------------------------------------------------------------------------------------------
def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV export and the encoding it was read in.

    UTF-8 (with or without BOM) is tried strictly first: GBK text is almost never valid UTF-8, while UTF-8
    text is often valid GB18030 (as mojibake), so the order matters. A file that decodes in neither is read in
    the one it mostly is — mostly UTF-8 with a few broken rows, or GB18030 — keeping the bytes it cannot read as
    surrogates, so that `csv_sheet` can set those rows aside. Raises UnreadableFile when too much of it is
    unreadable for that to be a few broken rows.
    """
    if b"\x00" in data:   # no text export holds NUL bytes; UTF-16 and binary files do
        raise UnreadableFile("bad_encoding_file", _data_lines(data))
    utf8 = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        return data.decode("utf-8-sig"), utf8
    except UnicodeDecodeError:
        pass
    non_ascii = max(len(data.translate(None, bytes(range(128)))), 1)   # ASCII deleted: what is left
    as_utf8 = data.decode("utf-8-sig", errors="surrogateescape")
    # Chinese in UTF-8 is three bytes a character; GBK bytes read as UTF-8 rarely form such a sequence (they
    # often form two-byte ones, which is why those are not counted).
    if 3 * len(_UTF8_WIDE.findall(as_utf8)) >= non_ascii / 2:
        text, encoding = as_utf8, utf8
    else:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            text, encoding = data.decode("gb18030", errors="surrogateescape"), "gb18030"
    if len(_UNDECODED.findall(text)) > MAX_BAD_SHARE * non_ascii or (encoding == "gb18030" and not _chinese(text)):
        raise UnreadableFile("bad_encoding_file", _data_lines(data))
    return text, encoding


def _chinese(text: str) -> bool:
    """GB18030 gives almost any bytes a meaning; Chinese text is nearly all characters of the basic GB2312 set
    (it covers 99.7 % of written usage), while other bytes read as GB18030 (Big5, binary) mostly are not."""
    wide = "".join(_WIDE.findall(text))
    return len(wide.encode("gb2312", errors="ignore")) // 2 >= GB2312_SHARE * len(wide)


def _data_lines(data: bytes) -> list[int]:
    """The lines of the data rows of a file that cannot be parsed (every non-blank line after the first), so
    that each can still be reported."""
    lines = data.split(b"\n")
    return [n for n, line in enumerate(lines[1:], start=2) if line.strip(b" \t\r,")]


# -- CSV and XLSX ----------------------------------------------------------------------------------------------
def csv_sheet(name: str, data: bytes, delimiter: str = ",") -> Sheet:
    text, encoding = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    sheet: Sheet | None = None
    previous_end = 0
    try:
        for cells in reader:
            line = previous_end + 1     # the row's first physical line (a quoted field may span several)
            previous_end = reader.line_num
            if not any(c.strip(_BLANKS) for c in cells):
                continue                # blank lines are not rows
            if sheet is None:
                if _UNDECODED.search("".join(cells)):
                    raise UnreadableFile("bad_encoding_file", _data_lines(data))
                sheet = Sheet(name, encoding, [clean_header(c) for c in cells])
                continue
            if _UNDECODED.search("".join(cells)):
                # Set aside, but keep what is legible (the legacy number is usually ASCII) for the report.
                sheet.undecodable.add(line)
                cells = [_UNDECODED.sub("\ufffd", c) for c in cells]
            sheet.rows.append((line, [clean_cell(c) for c in cells]))
    except csv.Error as exc:
        raise UnreadableFile("unreadable_file", _data_lines(data), detail=str(exc)) from exc
    return sheet or Sheet(name, encoding, [])


def xlsx_sheet(name: str, data: bytes) -> Sheet:
    """The first worksheet of an XLSX export (cells keep Excel's types: dates arrive as datetimes)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged or foreign file
        raise UnreadableFile("unreadable_file", [], detail=type(exc).__name__) from exc
    try:
        sheet: Sheet | None = None
        for line, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            cells = [clean_cell(v) for v in values]
            if not any(c not in (None, "") for c in cells):
                continue
            if sheet is None:
                sheet = Sheet(name, "xlsx", [clean_header(v) for v in values])
                continue
            sheet.rows.append((line, cells))
    finally:
        book.close()
    return sheet or Sheet(name, "xlsx", [])


def read_sheet(name: str, data: bytes, delimiter: str = ",") -> Sheet:
    if name.lower().endswith((".xlsx", ".xlsm")):
        return xlsx_sheet(name, data)
    return csv_sheet(name, data, delimiter)


def clean_header(value: Any) -> str:
    return "" if value is None else str(value).strip(_BLANKS)


def clean_cell(value: Any) -> Any:
    """Blank → None; text stripped; whole numbers (an Excel cell holding 20130627093000) as their digits."""
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip(_BLANKS)
    return text or None


# -- time stamps -----------------------------------------------------------------------------------------------
# The separated forms old systems wrote; strptime reads 6 and 06 alike for %m, %d and %H. Compact digit strings
# are split by their length instead (strptime would read 201306270930 as 09:03:00 under %Y%m%d%H%M%S).
DEFAULT_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y年%m月%d日%H时%M分",
    "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z",
)
_COMPACT = (8, 12, 14)   # yyyymmdd, yyyymmddhhmm, yyyymmddhhmmss
# The common forms, read without strptime (a large export holds hundreds of thousands of stamps): year first,
# one separator throughout the date, an optional time.
_PLAIN = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_FRACTION = re.compile(r"(\d{1,2}:\d{2}:\d{2})\.\d+")


class BadTime(ValueError):
    pass


def parse_time(value: Any, formats: tuple[str, ...] = DEFAULT_TIME_FORMATS, tz: ZoneInfo = TZ) -> datetime:
    """An old time stamp as the platform keeps time: naive local time in Asia/Shanghai, whole seconds.

    A stamp that names its offset (…+08:00, …Z) is converted to Beijing time; one without is taken as
    Beijing time already (what every old system in the city wrote)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip(_BLANKS)
        text = _FRACTION.sub(r"\1", text.replace("T", " ").replace("Z", "+0000"))
        text = re.sub(r"\s+", " ", text)
        parsed = None
        plain = _PLAIN.fullmatch(text)
        if plain:
            y, _, mo, d, h, mi, sec = plain.groups()
            try:
                parsed = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0))
            except ValueError:
                raise BadTime(text) from None
        elif text.isdigit():
            if len(text) not in _COMPACT:
                raise BadTime(text)
            try:   # yyyymmdd[hhmm[ss]], split by position
                parsed = datetime(int(text[:4]), *(int(text[i:i + 2]) for i in range(4, len(text), 2)))
            except ValueError:
                raise BadTime(text) from None
        else:
            for fmt in formats:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise BadTime(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed.replace(microsecond=0)
