"""Reading a user's table into a raw DataFrame: paths, upload buffers, CSV dialects, Parquet.

Everything here is about *bytes -> table*; what the columns mean and whether the values
make sense is :mod:`finmt_core.data.panel_checks`. Every failure is a :class:`DataError`
naming the file and saying how to fix it.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd

from finmt_core.errors import DataError

log = logging.getLogger(__name__)

#: delimiters tried when sniffing a text table, in order of preference on ties
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50
_MAX_CONTROL_FRACTION = 0.01  # more control characters than this in the head -> binary file
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Excel .xls (and other Office files)
_BZ2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


@dataclass
class RawTable:
    """A table as read, before any interpretation.

    Attributes:
        frame: the cells as parsed (strings or numbers), columns as in the file.
        label: how to name the input in messages (path, upload name or "DataFrame").
        kind: ``"csv"``, ``"parquet"`` or ``"dataframe"``: decides how rows are cited
            (CSV: file line numbers; otherwise row positions).
        delimiter: the CSV delimiter used (None for non-CSV).
        notes: remarks for ``panel.attrs["notes"]`` (e.g. the delimiter that was detected).
    """

    frame: pd.DataFrame
    label: str
    kind: str
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)

    def row_ref(self, position: int) -> str:
        """Human reference of a 0-based data row: a line number for CSV (header = line 1)."""
        return f"line {position + 2}" if self.kind == "csv" else f"row {position}"


def read_source(source: Any, name: str | None = None) -> RawTable:
    """Read a path, a file-like buffer (bytes or text) or a DataFrame into a :class:`RawTable`.

    Raises:
        DataError: missing file, directory, unreadable/empty/binary content, bad CSV layout.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        if isinstance(frame.index, pd.MultiIndex) or frame.index.name is not None:
            frame = frame.reset_index()
        return RawTable(frame=frame, label=name or "DataFrame", kind="dataframe")
    if isinstance(source, str | Path):
        path = Path(source).expanduser()
        label = name or str(source)
        if not path.exists():
            raise DataError(
                f"{label}: file not found. Give the path of a CSV or Parquet file "
                "(or 'demo' for the bundled sample, 'synthetic' for a synthetic market)."
            )
        if path.is_dir():
            raise DataError(f"{label}: is a directory, not a file. Give the path of one CSV or Parquet file.")
        try:
            with path.open("rb") as fh:
                head = fh.read(len(_PARQUET_MAGIC))
            if head == _PARQUET_MAGIC:  # read in place: a copy of the file's bytes is 0.5 GB at 5,000 stocks
                return _read_parquet(path, label)
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{label}: cannot be read ({exc.strerror or exc}). Check the file's permissions.") from None
        return parse_bytes(data, label)
    if hasattr(source, "read"):
        label = name or str(getattr(source, "name", "") or "uploaded file")
        return parse_bytes(_read_buffer(source, label), label)
    raise DataError(
        f"cannot load data from a {type(source).__name__}: give a file path, an uploaded file, "
        "a pandas DataFrame, 'demo' or 'synthetic'."
    )


def _read_buffer(buf: IO[Any], label: str) -> bytes:
    """All bytes of an upload buffer (Streamlit UploadedFile, BytesIO, an open text file, ...)."""
    try:
        if hasattr(buf, "getvalue"):
            content = buf.getvalue()
        else:
            if hasattr(buf, "seek"):
                buf.seek(0)
            content = buf.read()
    except (OSError, ValueError) as exc:
        raise DataError(f"{label}: the uploaded file cannot be read ({exc}). Upload it again.") from None
    if isinstance(content, str):
        return content.encode("utf-8")
    return bytes(content)


def parse_bytes(data: bytes, label: str) -> RawTable:
    """Decode a file's bytes by content, whatever its name says: gzip / bz2 / xz / a zip holding
    one CSV are unwrapped, Parquet is recognised by its magic, spreadsheets are refused, else CSV text."""
    data = _decompress(data, label)
    if not data.strip():
        raise DataError(f"{label}: the file is empty. Give a CSV with a header line "
                        "(e.g. date,ticker,close) and at least one data row.")
    if data.startswith(_PARQUET_MAGIC):
        return _read_parquet(data, label)
    if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
        raise DataError(f"{label}: looks like an Excel workbook or a zip archive, not a CSV. "
                        "Save the sheet as CSV (File > Save as > CSV) and load that.")
    return _read_csv(data, label)


def _decompress(data: bytes, label: str) -> bytes:
    """Unwrap gzip, bz2, xz, or a zip archive holding exactly one .csv file (not a workbook)."""
    import bz2
    import lzma
    import zipfile

    kinds = ((_GZIP_MAGIC, "gzip", gzip.decompress), (_BZ2_MAGIC, "bz2", bz2.decompress),
             (_XZ_MAGIC, "xz", lzma.decompress))
    for magic, kind, unwrap in kinds:
        if data.startswith(magic):
            try:
                return unwrap(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise DataError(f"{label}: looks {kind}-compressed but cannot be decompressed ({exc}). "
                                "Re-create the compressed file or give the plain CSV.") from None
    if data.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) == 1 and names[0].lower().endswith((".csv", ".txt", ".tsv")):
                    return archive.read(names[0])
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
            pass  # a damaged archive or a workbook: refused below with the spreadsheet message
    return data


def _read_parquet(data: bytes | Path, label: str) -> RawTable:
    try:
        frame = pd.read_parquet(data if isinstance(data, Path) else io.BytesIO(data))
    except Exception as exc:  # pyarrow raises many exception types for corrupt files
        raise DataError(f"{label}: is not a readable Parquet file ({type(exc).__name__}: {exc}). "
                        "Re-export it, or save it as CSV.") from None
    if isinstance(frame.index, pd.MultiIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    return RawTable(frame=frame, label=label, kind="parquet")


def _decode_head(data: bytes, label: str) -> tuple[str, str]:
    """(encoding, decoded head) of a text file; raises DataError for binary content."""
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        if b"\x00" in head:
            raise _binary_error(label)
    try:
        text = head.decode(encoding)
    except UnicodeDecodeError as exc:
        if len(data) > len(head) and exc.start >= len(head) - 4:
            text = head[: exc.start].decode(encoding)  # a multi-byte character cut by the sniff window
        else:  # not UTF-8: the usual spreadsheet export encoding
            encoding = "cp1252"
            text = head.decode(encoding, errors="replace")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n") + text.count("\ufffd")
    if text and control / len(text) > _MAX_CONTROL_FRACTION:
        raise _binary_error(label)
    return encoding, text


def _binary_error(label: str) -> DataError:
    return DataError(f"{label}: looks like a binary file, not a CSV or Parquet table. Give a text CSV "
                     "(comma-separated, header line first) or a Parquet file.")


def sniff_delimiter(text: str, label: str) -> str:
    """Pick the delimiter that splits the header and the first lines into the same number of fields.

    Raises:
        DataError: when the header and the data lines disagree (mixed delimiters) or when no
            delimiter gives more than one column.
    """
    lines = [ln for ln in text.splitlines()[: _SNIFF_LINES + 1] if ln.strip()]
    if len(text) >= _SNIFF_BYTES and len(lines) > 2:
        lines = lines[:-1]  # the last sniffed line may be cut in the middle
    header, body = lines[0], lines[1:]
    counts = {d: [len(row) for row in csv.reader(lines, delimiter=d)] for d in DELIMITERS}
    consistent = [d for d in DELIMITERS if counts[d][0] > 1 and len(set(counts[d])) == 1]
    if consistent:
        return max(consistent, key=lambda d: counts[d][0])  # max() keeps the first on ties
    header_best = max(DELIMITERS, key=lambda d: counts[d][0])
    if counts[header_best][0] <= 1:
        raise DataError(
            f"{label}: found only one column (header {header[:80]!r}). finmt reads comma-, semicolon-, "
            "tab- or pipe-separated tables; check the delimiter, or give at least a date and a close "
            "column (long: date,ticker,close; wide: date,<TICKER1>,<TICKER2>,...)."
        )
    body_best = max(DELIMITERS, key=lambda d: sum(counts[d][1:]))
    if body and body_best != header_best and counts[header_best][0] > 1:
        raise DataError(
            f"{label}: mixed delimiters: the header is split by {_DELIM_NAMES[header_best]} but the "
            f"data lines by {_DELIM_NAMES[body_best]} (e.g. line 2: {body[0][:80]!r}). Save the file "
            "again with one delimiter throughout."
        )
    bad = next(i for i, n in enumerate(counts[header_best]) if n != counts[header_best][0])
    raise DataError(
        f"{label}: line {bad + 1} has {counts[header_best][bad]} fields but the header has "
        f"{counts[header_best][0]} ({_DELIM_NAMES[header_best]}-separated): {lines[bad][:80]!r}. "
        "Every line needs one value per header column; check for stray delimiters or unquoted text."
    )


def _read_csv(data: bytes, label: str) -> RawTable:
    encoding, head = _decode_head(data, label)
    delimiter = sniff_delimiter(head, label)
    first = [ln for ln in head.splitlines() if ln.strip()][:1]
    header = [h.strip() for h in next(csv.reader(first, delimiter=delimiter))]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:  # pandas would silently rename the second one to "close.1"
        raise DataError(f"{label}: column names repeat in the header: {repeated}. Give every column a "
                        "distinct name (or delete the duplicate column).")
    notes = []
    if delimiter != ",":
        notes.append(f"read as {_DELIM_NAMES[delimiter]}-separated")
    # With ';' or tab the decimal separator is often ','; decide from the data, not the locale.
    decimal = "," if delimiter != "," and _uses_decimal_comma(head, delimiter) else "."
    if decimal == ",":
        notes.append("decimal commas read as decimal points")
    # ticker symbols are text: "0005" stays "0005" (not the number 5)
    raw_header = next(csv.reader(first, delimiter=delimiter))
    text_columns = {h: str for h in [*header, *raw_header] if _is_ticker_header(h)}
    try:
        frame = pd.read_csv(
            io.BytesIO(data), sep=delimiter, decimal=decimal, encoding=encoding, dtype=text_columns or None,
            low_memory=False, skipinitialspace=True, encoding_errors="replace",
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: the file is empty. Give a CSV with a header line and data rows.") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{label}: cannot be parsed as a {_DELIM_NAMES[delimiter]}-separated table ({exc}). "
                        "Every line needs one value per header column; check for stray delimiters.") from None
    except (UnicodeError, ValueError) as exc:
        raise DataError(f"{label}: cannot be read as text ({exc}). Save it as UTF-8 CSV.") from None
    if frame.empty:
        cols = ", ".join(map(str, frame.columns[:8]))
        raise DataError(f"{label}: has a header ({cols}) but no data rows. Add one row per (date, ticker).")
    return RawTable(frame=frame, label=label, kind="csv", delimiter=delimiter, notes=notes)


def _uses_decimal_comma(head: str, delimiter: str) -> bool:
    """True when numbers in the sniffed lines look like ``123,45`` and none like ``123.45``."""
    import re

    body = "\n".join(head.splitlines()[1:_SNIFF_LINES])
    cells = [c.strip() for c in re.split(re.escape(delimiter) + "|\n", body)]
    comma = sum(bool(re.fullmatch(r"-?\d+,\d+", c)) for c in cells)
    point = sum(bool(re.fullmatch(r"-?\d+\.\d+", c)) for c in cells)
    return comma > 0 and point == 0


def _is_ticker_header(header: str) -> bool:
    """True when ``header`` names the ticker column (``ticker``, ``Symbol``, ...)."""
    from finmt_core.data.panel_checks import ALIASES, normalise  # panel_checks imports this module

    return normalise(header) in ALIASES["ticker"]
