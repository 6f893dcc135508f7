"""Reading a recipients CSV as people export them: UTF-8 (with or without a byte-order mark) or Windows-1252,
`,` or `;` between cells, headers written as a person writes them ("First Name", "first name", "FirstName",
"E-mail"), mapped onto the template's variables, `email` and `external_id`.

`csv_layout` finds the encoding (one streaming pass of an incremental UTF-8 decoder; any invalid byte means
Windows-1252, the encoding of Excel's "CSV" on Western Windows), the delimiter (the one the header row uses
more of) and the header. `csv_mapping_guess` matches each header to a target by its normalised name;
`csv_mapping_resolve` applies a person's mapping over the guess (a column may also be ignored, or kept as a
recipient field), naming every problem by column. `csv_records` then streams the rows. A file is read in
two passes and never held whole in memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from campaigns.models import Campaign
from campaigns.selectors import csv_cell
from core.errors import ApplicationError
from core.storage import get_storage
from core.text import SURROGATE_RE

BAD_CSV = "The file must be a CSV (UTF-8 or Windows-1252) with a header row."
UNKNOWN_COLUMN = "Unknown column; this template's columns are: {columns}."
DUPLICATE_COLUMN = "This column appears twice."
DUPLICATE_TARGET = "Two columns are mapped to {target}."
BAD_TARGET = "Map a column to one of this template's columns ({columns}), or ignore or keep it."
NO_SUCH_COLUMN = "The file has no column with this name."
UPLOAD_GONE = "This upload is no longer there; upload the file again."
BAD_MAPPING = "The mapping is an object: each CSV column's name → what it is read as."
TOO_MANY_CELLS = "This row has more cells than the header."
# docs/reliability.md R18: a row that cannot be read is rejected alone, named by its own row number.
NOT_UTF8_ROW = "This row is not valid UTF-8 text (the rest of the file is)."
NOT_UTF8_HEADER = "The header row is not valid UTF-8 text."
UNTERMINATED_QUOTE = (
    'A quoted cell on this row never closes (an unmatched "); the rows after it were read on their own.'
)
MALFORMED_ROW = "This row is not valid CSV ({reason})."
# A record longer than this is no row of a recipients file (a cell holds at most 1,000 characters): a quote
# that opened and never closed is eating the rows after it. Also bounds the lines held to re-read them.
MAX_RECORD_CHARS = 64 * 1024
RESERVED_COLUMNS = ("external_id", "email")
# What a column may be mapped to besides a variable or a reserved column.
IGNORE = "ignore"  # the column is not read
KEEP = "keep"  # kept with the recipient (`Recipient.fields`), not a variable of the template
ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (",", ";")
# Bytes read per step of the encoding pass (the file streams; only this much is in memory at once).
CHUNK = 64 * 1024
# Rows shown beside each column in the mapping step.
SAMPLE_ROWS = 3
# Other ways people name the reserved columns, normalised (`_normal`).
ALIASES = {"emailaddress": "email", "mail": "email", "externalid": "external_id", "extid": "external_id"}


@dataclass(frozen=True)
class CsvLayout:
    encoding: str
    delimiter: str
    header: list[str]
    samples: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class CsvRecord:
    """One data row: its spreadsheet number (the header is row 1), its cells, what they map to, or why the
    row cannot be read."""

    number: int
    cells: list[str]
    values: dict[str, str]
    kept: dict[str, str]
    problem: str = ""


def _bad_csv(detail: str = "") -> ApplicationError:
    return ApplicationError(BAD_CSV, fields={"file": detail or BAD_CSV})


# Text UTF-8 decoded to something other than ASCII or an undecodable byte: a real multi-byte character.
_MULTIBYTE = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")


def _encoding(file: IO[bytes]) -> str:
    """UTF-8 if every byte decodes as UTF-8; else Windows-1252 if every byte decodes as that and the file
    holds no multi-byte UTF-8 character (a UTF-8 file with a few bad bytes stays UTF-8, and only its rows
    holding them are rejected); a NUL byte is never text."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    fallback = codecs.getincrementaldecoder("cp1252")()
    utf8 = cp1252 = True
    multibyte = False
    while chunk := file.read(CHUNK):
        if b"\x00" in chunk:  # UTF-16 or a binary file
            raise _bad_csv()
        text = decoder.decode(chunk)
        utf8 = utf8 and not SURROGATE_RE.search(text)
        multibyte = multibyte or bool(_MULTIBYTE.search(text))
        if cp1252:
            try:
                fallback.decode(chunk)
            except UnicodeDecodeError:
                cp1252 = False
    utf8 = utf8 and not SURROGATE_RE.search(decoder.decode(b"", final=True))
    if utf8 or multibyte or not cp1252:
        return ENCODINGS[0]
    return ENCODINGS[1]


def _displayable(cell: str) -> str:
    """A cell as a person can be shown it: undecodable bytes (kept as surrogates) become U+FFFD."""
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text(file: IO[bytes], encoding: str) -> io.TextIOWrapper:
    file.seek(0)
    # An undecodable byte becomes a lone surrogate (U+DC80-U+DCFF) and its row is rejected on its own.
    return io.TextIOWrapper(file, encoding=encoding, errors="surrogateescape", newline="")


def csv_layout(file: IO[bytes]) -> CsvLayout:
    """The file's encoding, delimiter, header and first rows; leaves the file at its start."""
    file.seek(0)
    encoding = _encoding(file)
    text = _text(file, encoding)
    try:
        first = text.readline()
        delimiter = max(DELIMITERS, key=first.count)  # ties (one column) go to ","
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise _bad_csv() from None
        if not any(header):
            raise _bad_csv()
        if any(SURROGATE_RE.search(name) for name in header):
            raise _bad_csv(NOT_UTF8_HEADER)
        samples = []
        for cells in reader:
            if any(cell.strip() for cell in cells):
                samples.append([_displayable(cell) for cell in cells])
            if len(samples) >= SAMPLE_ROWS:
                break
    except csv.Error as exc:
        raise _bad_csv(str(exc)[:200]) from None
    finally:
        text.detach()  # the upload's own file stays open for Django to clean up
        file.seek(0)
    return CsvLayout(encoding=encoding, delimiter=delimiter, header=header, samples=samples)


def _normal(name: str) -> str:
    """ "First Name", "first_name", "FirstName", "first-name" → "firstname"."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def csv_targets(declared: Mapping[str, Any]) -> list[str]:
    """What a column may be mapped to, besides ignore and keep: the variables, then the reserved columns."""
    return [*declared, *RESERVED_COLUMNS]


def csv_mapping_guess(header: list[str], declared: Mapping[str, Any]) -> dict[str, str | None]:
    """Each header's target when its name says it (exactly, else normalised, else a known alias); None
    when it matches nothing. A target is guessed for one column at most (the first)."""
    by_normal: dict[str, str] = {}
    for known in csv_targets(declared):
        by_normal.setdefault(_normal(known), known)
    taken: set[str] = set()
    guess: dict[str, str | None] = {}
    for name in header:
        normal = _normal(name)
        target: str | None = (
            name if name in csv_targets(declared) else by_normal.get(normal) or ALIASES.get(normal)
        )
        if target is not None and target in taken:
            target = None
        if target is not None:
            taken.add(target)
        guess.setdefault(name, target)
    return guess


def csv_mapping_resolve(
    header: list[str], declared: Mapping[str, Any], mapping: Mapping[str, str] | None = None
) -> list[str]:
    """Per column, what it is read as: a variable, `email`, `external_id`, IGNORE or KEEP. `mapping`
    (header → target) overrides the guess; a column neither mapped nor guessed is an unknown column. Every
    problem is named (`columns.<header>` for the file's columns, `mapping.<header>` for the mapping's)."""
    mapping = mapping or {}
    if not isinstance(mapping, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ApplicationError(BAD_MAPPING, fields={"mapping": BAD_MAPPING})
    allowed = csv_targets(declared)
    columns = ", ".join(sorted(allowed))
    problems: dict[str, str] = {}
    for name, wanted in mapping.items():
        if name not in header:
            problems[f"mapping.{name}"] = NO_SUCH_COLUMN
        elif wanted not in (*allowed, IGNORE, KEEP):
            problems[f"mapping.{name}"] = BAD_TARGET.format(columns=columns)
    guess = csv_mapping_guess(header, declared)
    targets: list[str] = []
    seen: dict[str, str] = {}
    for index, name in enumerate(header):
        target: str | None = mapping.get(name) or guess.get(name)
        if header.index(name) != index:
            problems[f"columns.{name}"] = DUPLICATE_COLUMN
            target = IGNORE
        elif target is None:
            problems[f"columns.{name or index + 1}"] = UNKNOWN_COLUMN.format(columns=columns)
            target = IGNORE
        elif target in allowed and target in seen:
            problems[f"columns.{name}"] = DUPLICATE_TARGET.format(target=target)
        seen.setdefault(target, name)
        targets.append(target)
    if problems:
        raise ApplicationError(next(iter(problems.values())), fields=problems)
    return targets


class _Lines:
    """The file's lines as `csv.reader` takes them, remembering the lines of the record being read, so a
    record that went wrong (a quote that never closes) can give back all but its first line to be read
    again as rows of their own."""

    def __init__(self, text: Iterable[str]) -> None:
        self.source = iter(text)
        self.pushed: deque[str] = deque()
        self.taken: list[str] = []
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.pushed.popleft() if self.pushed else next(self.source)
        self.taken.append(line)
        self.size += len(line)
        if self.size > MAX_RECORD_CHARS and len(self.taken) > 1:
            raise _RecordTooLong()
        return line

    def record_start(self) -> None:
        self.taken = []
        self.size = 0

    def record_abandon(self) -> None:
        """Read everything after the record's first line again."""
        self.pushed.extendleft(reversed(self.taken[1:]))
        self.taken = []


class _RecordTooLong(Exception):
    pass


def _cells(text: Iterable[str], delimiter: str) -> Iterator[tuple[list[str] | None, str]]:
    """Every record after the header: (cells, "") or (None, why it could not be read). Strict parsing: a
    quote must close, and close at the end of its cell; a record that breaks either rule is its first line,
    rejected, and the lines after it are read again (it never swallows the rows that follow)."""
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    next(reader, None)  # the header (row 1)
    while True:
        lines.record_start()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, _RecordTooLong) as exc:
            unterminated = isinstance(exc, _RecordTooLong) or "unexpected end of data" in str(exc)
            lines.record_abandon()
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            yield None, UNTERMINATED_QUOTE if unterminated else MALFORMED_ROW.format(reason=str(exc)[:100])
            continue
        yield cells, ""


def csv_records(file: IO[bytes], layout: CsvLayout, targets: list[str]) -> Iterator[CsvRecord]:
    """The data rows, streamed, with the cells each maps (empty cells left out). A row that cannot be read
    (bad bytes, an unclosed quote, more cells than the header) is yielded with its problem, and the rows
    around it are read as they are."""
    text = _text(file, layout.encoding)
    number = 1
    try:
        for cells, problem in _cells(text, layout.delimiter):
            number += 1
            if cells is None:
                yield CsvRecord(number, [], {}, {}, problem)
                continue
            if not any(cell.strip() for cell in cells):
                continue  # a blank line still takes its row number
            if any(SURROGATE_RE.search(cell) for cell in cells):
                yield CsvRecord(number, [_displayable(cell) for cell in cells], {}, {}, NOT_UTF8_ROW)
                continue
            if len(cells) > len(layout.header):
                yield CsvRecord(number, cells, {}, {}, TOO_MANY_CELLS)
                continue
            values: dict[str, str] = {}
            kept: dict[str, str] = {}
            for name, target, cell in zip(layout.header, targets, cells, strict=False):
                if cell == "" or target == IGNORE:
                    continue
                if target == KEEP:
                    kept[name] = cell
                else:
                    values[target] = cell
            yield CsvRecord(number, cells, values, kept)
    finally:
        text.detach()


def csv_rejected_rows(*, header: list[str], rejected: list[dict[str, Any]]) -> str:
    """The rejected rows of an import as a CSV to fix and upload again: the file's own columns, then the row
    number and the reasons (cells that look like formulas are neutralised, as in results.csv)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*header, "row", "problems"])
    for item in rejected:
        cells = list(item.get("cells") or [])
        cells += [""] * (len(header) - len(cells))
        reasons = "; ".join(
            f"{path.split('.', 1)[1] if '.' in path else 'row'}: {message}"
            for path, messages in item["fields"].items()
            for message in messages
        )
        writer.writerow([csv_cell(value) for value in [*cells[: len(header)], item["row"], reasons]])
    return out.getvalue()


# --- an upload waiting for its column mapping (the dashboard's two-step import) -------------------------------


def _upload_key(campaign: Campaign, token: str) -> str:
    try:
        name = uuid.UUID(hex=token).hex  # only our own tokens name a storage key
    except ValueError:
        raise ApplicationError(UPLOAD_GONE, fields={"upload": UPLOAD_GONE}) from None
    return f"imports/{campaign.workspace_id}/{campaign.pk}/{name}.csv"


def csv_upload_stash(*, campaign: Campaign, file: IO[bytes]) -> str:
    """Keep an upload in storage while a person maps its columns; returns its token."""
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="reelsmith-import-") as tmp:
        path = Path(tmp) / "upload.csv"
        file.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(file, out, CHUNK)
        get_storage().put_file(_upload_key(campaign, token), path, content_type="text/csv")
    return token


@contextmanager
def csv_upload_open(*, campaign: Campaign, token: str) -> Iterator[IO[bytes]]:
    """The stashed upload, read from a local copy (400 naming `upload` when it is gone)."""
    key = _upload_key(campaign, token)
    storage = get_storage()
    if not storage.exists(key):
        raise ApplicationError(UPLOAD_GONE, fields={"upload": UPLOAD_GONE})
    with tempfile.TemporaryDirectory(prefix="reelsmith-import-") as tmp:
        path = storage.fetch(key, Path(tmp) / "upload.csv")
        with path.open("rb") as file:
            yield file


def csv_upload_discard(*, campaign: Campaign, token: str) -> None:
    get_storage().delete(_upload_key(campaign, token))
