"""Streaming row readers for the dataset formats, and the validation pass over one file.

Everything here is synchronous and runs in a worker thread, reading a file object (or, for
parquet, a local path) block by block: memory stays bounded whatever the file size.

* jsonl: one JSON value per line (blank lines are skipped); errors carry the physical line number.
* json: one top-level array, streamed element by element with ijson.
* csv: a header row, then one row per record (csv.DictReader). Cells are strings; a cell is coerced
  to a number, boolean or null only where the schema's property type asks for it.
* parquet: record batches through pyarrow (an optional dependency).

Rows must be JSON objects (records): the engine renders each row's fields through a template.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import fastjsonschema
import jsonschema
import jsonschema.exceptions

from llm_research_lab.errors import BadRequestError, ServiceUnavailableError
from llm_research_lab.schemas.datasets import DatasetFormat

MAX_REPORTED_ERRORS = 10
READ_BLOCK = 1024 * 1024

# Content types accepted per format at the upload-request step; application/octet-stream is what
# many tools send for any file, so it is accepted everywhere.
CONTENT_TYPES: dict[DatasetFormat, frozenset[str]] = {
    DatasetFormat.JSONL: frozenset(
        {
            "application/jsonl",
            "application/x-jsonl",
            "application/jsonlines",
            "application/x-jsonlines",
            "application/json-lines",
            "application/x-ndjson",
            "application/ndjson",
            "text/jsonl",
            "text/plain",
            "application/octet-stream",
        }
    ),
    DatasetFormat.JSON: frozenset({"application/json", "text/json", "application/octet-stream"}),
    DatasetFormat.CSV: frozenset(
        {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"}
    ),
    DatasetFormat.PARQUET: frozenset(
        {
            "application/vnd.apache.parquet",
            "application/x-parquet",
            "application/parquet",
            "application/octet-stream",
        }
    ),
}
EXTENSIONS: dict[DatasetFormat, tuple[str, ...]] = {
    DatasetFormat.JSONL: (".jsonl", ".ndjson", ".jsonlines"),
    DatasetFormat.JSON: (".json",),
    DatasetFormat.CSV: (".csv",),
    DatasetFormat.PARQUET: (".parquet", ".pq"),
}


# -- schemas -----------------------------------------------------------------------------------
def check_schema(schema: dict[str, Any]) -> None:
    """Raise a 400 naming `schema` unless `schema` is a valid JSON Schema (its own draft's metaschema)."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise BadRequestError(
            "Invalid JSON Schema", details={"fields": {"schema": f"{exc.message} (at {where})"}}
        ).with_code("validation_error") from None


# Keywords newer than draft 7: fastjsonschema (draft 4/6/7) would ignore them, so such schemas are
# validated by jsonschema itself.
_NEWER_KEYWORDS = frozenset(
    {
        "prefixItems",
        "$defs",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "minContains",
        "maxContains",
    }
)
_OLD_DRAFTS = ("draft-04", "draft-06", "draft-07")


def _uses_newer_keywords(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k in _NEWER_KEYWORDS for k in node) or any(_uses_newer_keywords(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_newer_keywords(v) for v in node)
    return False


class RowValidator:
    """A schema compiled once. jsonschema is the reference semantics; fastjsonschema (generated
    Python code, ~25x faster) screens rows first when the schema only uses draft-7 keywords, and a
    row it rejects is re-checked by jsonschema, which also words the error."""

    def __init__(self, schema: dict[str, Any] | None) -> None:
        self.schema = schema or None
        self._full = jsonschema.validators.validator_for(schema)(schema) if self.schema else None
        self._fast: Callable[[Any], Any] | None = None
        declared = str((schema or {}).get("$schema", ""))
        old_draft = not declared or any(d in declared for d in _OLD_DRAFTS)
        if self.schema and old_draft and not _uses_newer_keywords(schema):
            try:
                # use_default=False: never fill defaults into the row; formats are annotations
                # in jsonschema by default, so they are here too.
                self._fast = fastjsonschema.compile(self.schema, use_default=False, use_formats=False)
            except fastjsonschema.JsonSchemaDefinitionException:
                self._fast = None

    def error(self, row: Any) -> str | None:
        """None if `row` is valid, else a message naming the offending field."""
        if self._full is None:
            return None
        if self._fast is not None:
            try:
                self._fast(row)
                return None
            except fastjsonschema.JsonSchemaValueException:
                pass
        best = jsonschema.exceptions.best_match(self._full.iter_errors(row))
        if best is None:
            return None
        path = ".".join(str(p) for p in best.absolute_path)
        return f"{path}: {best.message}" if path else best.message


# -- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RowError:
    error: str
    line: int | None = None
    row: int | None = None
    fatal: bool = False  # the rest of the file cannot be read (truncated array, broken parquet)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.line is not None:
            out["line"] = self.line
        if self.row is not None:
            out["row"] = self.row
        out["error"] = self.error
        return out


Item = tuple[int, Any] | RowError  # (row number, row) or an error


class HashingReader(io.RawIOBase):
    """Counts and hashes the bytes read through it, so one pass validates and fingerprints."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.size += n
        return n


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every row: json.loads(..., parse_constant=...) would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(raw: bytes) -> Any:
    return _DECODER.decode(raw.decode("utf-8"))


def iter_jsonl(fh: IO[bytes]) -> Iterator[Item]:
    row_no = 0
    for line_no, raw in enumerate(fh, 1):
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        row_no += 1
        try:
            value = _loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"Invalid JSON: {getattr(exc, 'msg', None) or exc}"
            if not raw.endswith(b"\n"):
                msg += " (the file ends in the middle of this line: truncated?)"
            yield RowError(msg, line=line_no, row=row_no)
            continue
        yield (line_no, value)


def iter_json_array(fh: io.BufferedReader) -> Iterator[Item]:
    import ijson

    head = fh.peek(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    while not head and fh.peek(1):
        fh.read(len(fh.peek(READ_BLOCK)))  # a run of leading whitespace longer than one peek
        head = fh.peek(64).lstrip(b" \t\r\n")
    if not head.startswith(b"["):
        yield RowError("A json dataset must be one JSON array of rows", row=1, fatal=True)
        return
    row_no = 0
    try:
        for row_no, value in enumerate(ijson.items(fh, "item", use_float=True), 1):
            yield (row_no, value)
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        text = str(exc).strip() or type(exc).__name__
        if isinstance(exc, ijson.IncompleteJSONError) and "premature" in text.lower():
            text += " (truncated file?)"
        yield RowError(f"Invalid JSON after row {row_no}: {text}", row=row_no + 1, fatal=True)


_INT = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_EXTRA = "\x00extra"


def _coercer(prop: Any) -> Callable[[str], Any] | None:
    """How to turn a CSV cell into the type the schema asks for (None: keep the string)."""
    if not isinstance(prop, dict):
        return None
    declared = prop.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or [])
    if not types & {"integer", "number", "boolean", "null"}:
        return None

    def coerce(cell: str) -> Any:
        text = cell.strip()
        if text == "" and "null" in types:
            return None
        if "integer" in types and _INT.fullmatch(text):
            return int(text)
        if "number" in types:
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                return int(number) if _INT.fullmatch(text) else number
        if "boolean" in types and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        return cell  # the schema reports the mismatch, naming the column

    return coerce


def iter_csv(fh: io.BufferedReader, schema: dict[str, Any] | None) -> Iterator[Item]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text, restkey=_EXTRA, restval=None)
    try:
        fields = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        yield RowError(f"Unreadable CSV header: {exc}", line=1, row=None, fatal=True)
        return
    if not fields:
        yield RowError("Empty CSV: no header row", line=1, fatal=True)
        return
    props = (schema or {}).get("properties") or {}
    coercers = {name: c for name in fields if (c := _coercer(props.get(name))) is not None}
    row_no = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowError(f"Unreadable CSV: {exc}", line=reader.line_num, row=row_no + 1, fatal=True)
            return
        row_no += 1
        if _EXTRA in record or None in record.values():
            got = len(record) - (1 if _EXTRA in record else 0) + len(record.get(_EXTRA) or [])
            got -= sum(1 for v in record.values() if v is None)
            yield RowError(
                f"Row has {got} fields, the header has {len(fields)}", line=reader.line_num, row=row_no
            )
            continue
        for name, coerce in coercers.items():
            record[name] = coerce(record[name])
        yield (reader.line_num, record)


def _jsonable(value: Any) -> Any:
    """Parquet values JSON cannot carry as such (timestamps, decimals, bytes) as JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    return value


def _import_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ServiceUnavailableError(
            "Parquet datasets need pyarrow on the server: pip install 'llm-research-lab[parquet]'"
        ) from None
    return pq


def iter_parquet(path: Path, *, skip: int = 0) -> Iterator[Item]:
    pq = _import_parquet()
    import pyarrow as pa

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield RowError(f"Not a readable parquet file: {exc}", row=1, fatal=True)
        return
    row_no = 0
    # Skip whole row groups first (the footer knows their sizes), so a deep preview page is cheap.
    groups = []
    for g in range(pf.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row_no + n <= skip:
            row_no += n
            continue
        groups.append(g)
    try:
        for batch in pf.iter_batches(batch_size=4096, row_groups=groups):
            for value in batch.to_pylist():
                row_no += 1
                yield (row_no, _jsonable(value))
    except (pa.ArrowException, OSError) as exc:
        yield RowError(f"Unreadable parquet data after row {row_no}: {exc}", row=row_no + 1, fatal=True)


def iter_items(source: IO[bytes] | Path, fmt: DatasetFormat, schema: dict[str, Any] | None) -> Iterator[Item]:
    """Rows of `source` as (number, row) pairs, or RowError. Parquet needs a Path (it seeks)."""
    if fmt is DatasetFormat.PARQUET:
        assert isinstance(source, Path), "parquet needs a local path"
        yield from iter_parquet(source)
        return
    assert not isinstance(source, Path)
    buffered: Any = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source, READ_BLOCK)
    if fmt is DatasetFormat.JSONL:
        yield from iter_jsonl(buffered)
    elif fmt is DatasetFormat.JSON:
        yield from iter_json_array(buffered)
    else:
        yield from iter_csv(buffered, schema)


# -- the validation pass -----------------------------------------------------------------------
@dataclass
class Report:
    """What one pass over a file found."""

    rows: int = 0
    size: int = 0
    sha256: str = ""
    errors: list[RowError] = field(default_factory=list)
    truncated_errors: bool = False  # stopped after MAX_REPORTED_ERRORS
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def validate_source(
    source: IO[bytes] | Path,
    fmt: DatasetFormat,
    schema: dict[str, Any] | None,
    *,
    max_errors: int = MAX_REPORTED_ERRORS,
) -> Report:
    """Read every row once: parse, check it is an object, validate it, count it, hash the bytes.
    Stops reading after `max_errors` errors (the file is refused anyway)."""
    started = time.perf_counter()
    report = Report()
    validator = RowValidator(schema)
    hashing: HashingReader | None = None
    if isinstance(source, Path):
        report.sha256, report.size = _sha256_file(source)
        items = iter_items(source, fmt, schema)
    else:
        hashing = HashingReader(source)
        items = iter_items(io.BufferedReader(hashing, READ_BLOCK), fmt, schema)
    for item in items:
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            number, row = item
            report.rows += 1
            line = number if fmt in (DatasetFormat.JSONL, DatasetFormat.CSV) else None
            if not isinstance(row, dict):
                report.errors.append(
                    RowError(f"A row must be a JSON object, got {type(row).__name__}", line, report.rows)
                )
            elif (message := validator.error(row)) is not None:
                report.errors.append(RowError(f"Schema violation: {message}", line, report.rows))
        if len(report.errors) >= max_errors:
            report.truncated_errors = True
            break
    if hashing is not None:
        if report.ok:
            report.sha256, report.size = hashing.sha.hexdigest(), hashing.size
        else:
            report.size = hashing.size
    if report.ok and report.rows == 0:
        report.errors.append(RowError("The file contains no rows"))
    report.seconds = time.perf_counter() - started
    return report


def read_rows(
    source: IO[bytes] | Path, fmt: DatasetFormat, schema: dict[str, Any] | None, offset: int, limit: int
) -> tuple[list[Any], bool]:
    """Rows offset..offset+limit of validated content, and whether more follow; reads no further."""
    items = iter_parquet(source, skip=offset) if isinstance(source, Path) else iter_items(source, fmt, schema)
    out: list[Any] = []
    seen = 0
    for item in items:
        if isinstance(item, RowError):
            continue  # content was validated on upload; nothing to report in a preview
        number, row = item
        seen = number if fmt is DatasetFormat.PARQUET else seen + 1
        if seen <= offset:
            continue
        if len(out) == limit:
            return out, True
        out.append(row)
    return out, False
