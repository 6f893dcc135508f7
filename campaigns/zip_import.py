"""Recipients with their pictures: a zip holding one CSV and the files its image columns name.

A marketer who has each prospect's logo as a file, not a URL, uploads `recipients.zip`:

    recipients.csv          first_name,company,company_logo
    logos/acme.png          Zoë,Acme,logos/acme.png

An image variable's cell that is neither a URL nor an upload reference is a path inside the zip (relative to
the CSV's folder, or to the zip's root). Each picture named is checked like any uploaded picture (PNG or
JPEG within the brand picture's caps, core/assets.py) and kept in the workspace by content
(render.services.images.uploaded_image_store), once per file however many rows name it; the cell becomes
its `upload:` reference. A row whose picture is missing or not a usable picture is a rejected row naming
the column, like any other bad cell (docs/campaigns.md "Recipients").

The archive is read in place (never extracted by name, so `../` in a member's name reaches nothing), and
each member is read through zipfile, which stops at the size the archive declares; members declared larger
than a picture may be are refused before a byte is inflated.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
import zipfile
from typing import IO

from adspec.vocabulary import IMAGE_UPLOAD, IMAGE_URL
from core.assets import MAX_BYTES
from core.errors import ApplicationError
from render.services.images import uploaded_image_store

ZIP_MAGIC = b"PK\x03\x04"
# Members one archive may hold: a picture per recipient for the largest campaign upload we expect in one
# file (the CSV path imports any size; a zip's pictures are read whole, so its count is capped).
MAX_MEMBERS = 20_000
# The CSV inside a zip, inflated: 200 MiB is several million rows of a typical recipients file.
MAX_CSV_BYTES = 200 * 1024 * 1024
# A picture's cap: the same as a brand picture's and a URL-fetched one's.
MAX_PICTURE_BYTES = MAX_BYTES["image"]

NOT_A_ZIP = "The zip file cannot be read."
NO_CSV = "The zip must hold exactly one .csv file (it holds {count})."
TOO_MANY_MEMBERS = f"The zip holds more than {MAX_MEMBERS} files."
CSV_TOO_LARGE = f"The CSV inside the zip is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB."
PICTURE_MISSING = "No file {name!r} in the zip."
PICTURE_TOO_LARGE = f"{{name!r}} is larger than {MAX_PICTURE_BYTES // (1024 * 1024)} MiB."


def zip_is(file: IO[bytes]) -> bool:
    """Whether an upload is a zip (by its first bytes, not its name); leaves the file at its start."""
    file.seek(0)
    head = file.read(len(ZIP_MAGIC))
    file.seek(0)
    return head == ZIP_MAGIC


def _refuse(message: str) -> ApplicationError:
    return ApplicationError(message, fields={"file": [message]})


class RecipientsZip:
    """An uploaded zip: its CSV as a seekable file, and its pictures on demand, each stored once."""

    def __init__(self, file: IO[bytes], *, workspace_id: object) -> None:
        self.workspace_id = workspace_id
        try:
            self.archive = zipfile.ZipFile(file)
            members = [info for info in self.archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise _refuse(NOT_A_ZIP) from None
        if len(members) > MAX_MEMBERS:
            raise _refuse(TOO_MANY_MEMBERS)
        visible = [i for i in members if not posixpath.basename(i.filename).startswith((".", "__MACOSX"))]
        csvs = [i for i in visible if i.filename.lower().endswith(".csv") and "__MACOSX/" not in i.filename]
        if len(csvs) != 1:
            raise _refuse(NO_CSV.format(count=len(csvs)))
        self.csv_info = csvs[0]
        self.folder = posixpath.dirname(self.csv_info.filename)
        self.members = {posixpath.normpath(i.filename): i for i in visible}
        self.references: dict[str, str] = {}  # member name → its upload reference (stored once)

    def csv_file(self) -> IO[bytes]:
        """The CSV, inflated into a temporary file (spilled to disk past 5 MiB) the importer can seek."""
        if self.csv_info.file_size > MAX_CSV_BYTES:
            raise _refuse(CSV_TOO_LARGE)
        spooled = tempfile.SpooledTemporaryFile(max_size=5 * 1024 * 1024)  # noqa: SIM115 (the caller closes it)
        try:
            with self.archive.open(self.csv_info) as member:
                shutil.copyfileobj(member, spooled)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            spooled.close()
            raise _refuse(NOT_A_ZIP) from None
        spooled.seek(0)
        return spooled

    def _member(self, name: str) -> zipfile.ZipInfo | None:
        for candidate in (posixpath.join(self.folder, name), name):
            info = self.members.get(posixpath.normpath(candidate.lstrip("/")))
            if info is not None:
                return info
        return None

    def picture_reference(self, name: str) -> str:
        """The upload reference of the picture the cell names. Raises ValueError with the reason."""
        info = self._member(name.strip())
        if info is None:
            raise ValueError(PICTURE_MISSING.format(name=name))
        if info.filename in self.references:
            return self.references[info.filename]
        if info.file_size > MAX_PICTURE_BYTES:
            raise ValueError(PICTURE_TOO_LARGE.format(name=name))
        try:
            with self.archive.open(info) as member:
                data = member.read(MAX_PICTURE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ValueError(f"{name!r}: {NOT_A_ZIP} ({exc})") from None
        try:
            reference = uploaded_image_store(workspace_id=self.workspace_id, data=data)
        except ApplicationError as exc:
            raise ValueError(f"{name!r}: {exc.message}") from None
        self.references[info.filename] = reference
        return reference

    def rewrite(
        self, *, declared: dict[str, dict[str, object]], values: dict[str, object], path: str
    ) -> dict[str, list[str]]:
        """Replace each image cell that names a file in the zip by its reference (in `values`); returns
        the problems by field path."""
        errors: dict[str, list[str]] = {}
        for name, decl in declared.items():
            value = values.get(name)
            if decl.get("type") != "image" or not isinstance(value, str) or not value.strip():
                continue
            if IMAGE_URL.fullmatch(value) or IMAGE_UPLOAD.fullmatch(value):
                continue
            try:
                values[name] = self.picture_reference(value)
            except ValueError as exc:
                errors[f"{path}.{name}"] = [str(exc)]
        return errors
