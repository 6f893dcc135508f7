"""Images per recipient: a variable of type `image` holds a URL, fetched once per distinct URL through the
private-address guard (core/outbound.py), checked like an uploaded brand picture (core/assets.py), and kept
in storage by content so every recipient, campaign and worker that names the same URL reads the copy.

    remote-images/urls/<sha256(url)>.json   {"url", "key"}: the URL's fetched copy (written last)
    remote-images/<sha256(bytes)>.<png|jpg>  the picture

A URL is fetched at most once while its pointer exists: the first render that needs it fetches and stores
it; every later one reads storage. Two workers may fetch the same new URL at once; both write the same
objects (content-addressed), so either copy is valid. A URL's picture is taken as it was when first
fetched: a changed logo needs a new URL (a query string will do). Failures are not cached: a recipient
whose URL failed is tried again on its next render.

A picture may also be uploaded (`POST /api/v1/images/`, or a file inside a campaign's zip of recipients):
it is checked the same way and kept per workspace by content, and the variable's value is its reference,
`upload:<sha256>.<png|jpg>`:

    uploads/<workspace>/images/<sha256>.<png|jpg>

A reference names bytes, so the same logo uploaded for 50 recipients (or twice) is one object; a render
whose reference is not in its workspace is refused at request time (400 naming the variable).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from adspec.vocabulary import IMAGE_UPLOAD
from core.assets import MAX_BYTES, asset_check
from core.errors import ApplicationError
from core.outbound import OutboundError, request
from core.storage import get_storage, storage_exists_shared, storage_fetch_shared, storage_put_bytes_once
from render.planning import BrandFiles
from templates.merge import VARIABLES_INVALID

PREFIX = "remote-images"
# The brand picture's cap (core/assets.py): a recipient's logo is no bigger than a brand's.
MAX_IMAGE_BYTES = MAX_BYTES["image"]
# Seconds per connect and per read (http.client's socket timeout); a logo server slower than this is down.
FETCH_TIMEOUT_S = 10.0


UPLOAD_MISSING = "No picture with this reference was uploaded to this workspace (POST /api/v1/images/)."


class RemoteImageError(Exception):
    """The URL's picture could not be had; the message says why, naming the URL."""


def _pointer_key(url: str) -> str:
    return f"{PREFIX}/urls/{hashlib.sha256(url.encode()).hexdigest()}.json"


def remote_image_fetch(*, url: str, dest_dir: Path) -> Path:
    """The picture at `url`, from storage when this URL was fetched before, else fetched once, checked and
    stored. Raises RemoteImageError with the reason."""
    pointer = _pointer_key(url)
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    if storage_exists_shared(key=pointer):
        record = json.loads(storage_fetch_shared(key=pointer, dest=dest_dir / f"{name}.json").read_text())
        key = str(record["key"])
        # The picture may be gone (erased with a recipient who had the same one, render.services.erasure):
        # then it is fetched again.
        if storage_exists_shared(key=key):
            return storage_fetch_shared(key=key, dest=dest_dir / f"{name}{Path(key).suffix}")
    data = _download(url)
    try:
        checked = asset_check(kind="image", data=data)
    except ApplicationError as exc:
        raise RemoteImageError(f"{url}: {exc.message}") from None
    key = f"{PREFIX}/{hashlib.sha256(data).hexdigest()}.{checked.extension}"
    path = dest_dir / f"{name}.{checked.extension}"
    path.write_bytes(data)
    storage = get_storage()
    storage.put_file(key, path, content_type=checked.content_type)
    record_path = dest_dir / f"{name}.json"
    record_path.write_text(json.dumps({"url": url, "key": key}))
    storage.put_file(pointer, record_path, content_type="application/json")  # last: the picture is there
    return path


def _download(url: str) -> bytes:
    try:
        response = request(
            "GET",
            url,
            body=b"",
            headers={"Accept": "image/png, image/jpeg"},
            timeout=FETCH_TIMEOUT_S,
            max_bytes=MAX_IMAGE_BYTES + 1,
        )
    except OutboundError as exc:
        raise RemoteImageError(f"{url}: {exc}") from None
    if 300 <= response.status < 400:
        raise RemoteImageError(f"{url}: answered {response.status}, a redirect; redirects are not followed")
    if response.status != 200:
        raise RemoteImageError(f"{url}: answered HTTP {response.status}")
    if len(response.body) > MAX_IMAGE_BYTES:
        raise RemoteImageError(f"{url}: larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    return response.body


def _upload_key(workspace_id: object, reference: str) -> str:
    match = IMAGE_UPLOAD.fullmatch(reference)
    if match is None:
        raise ValueError(reference)
    return f"uploads/{workspace_id}/images/{match.group(1)}.{match.group(2)}"


def uploaded_image_store(*, workspace_id: object, data: bytes, field: str = "file") -> str:
    """Check an uploaded picture (a PNG or JPEG within the brand picture's caps, core/assets.py) and keep
    it in the workspace by content; returns its reference for an image variable. A 400 naming `field`
    when it is not a picture that can be used."""
    try:
        checked = asset_check(kind="image", data=data)
    except ApplicationError as exc:
        raise ApplicationError(exc.message, fields={field: [exc.message]}) from None
    reference = f"upload:{hashlib.sha256(data).hexdigest()}.{checked.extension}"
    storage_put_bytes_once(
        key=_upload_key(workspace_id, reference), data=data, content_type=checked.content_type
    )
    return reference


def uploaded_image_delete(*, workspace_id: object, reference: str) -> int:
    """Delete an uploaded picture (an erasure, once nobody names it any more); 1 if it was there."""
    key, storage = _upload_key(workspace_id, reference), get_storage()
    if not storage.exists(key):
        return 0
    storage.delete(key)
    return 1


def uploaded_images_check(
    *,
    workspace_id: object,
    declared: dict[str, dict[str, Any]],
    values: dict[str, str],
    path: str = "variables",
    known: dict[str, bool] | None = None,
) -> None:
    """Refuse (400 naming each variable) an upload reference that is not in this workspace: a render is
    only accepted with pictures it can use. One existence check per distinct reference (`known` carries
    the answers across calls, e.g. the rows of one import)."""
    missing: dict[str, list[str]] = {}
    known = {} if known is None else known
    for name, decl in declared.items():
        value = values.get(name, "")
        if decl.get("type") != "image" or not IMAGE_UPLOAD.fullmatch(value or ""):
            continue
        if value not in known:
            known[value] = get_storage().exists(_upload_key(workspace_id, value))
        if not known[value]:
            missing[f"{path}.{name}"] = [UPLOAD_MISSING]
    if missing:
        raise ApplicationError(VARIABLES_INVALID, fields=missing)


def recipient_images_fetch(
    *,
    declared: dict[str, dict[str, Any]],
    values: dict[str, str],
    brand: BrandFiles,
    dest_dir: Path,
    workspace_id: object = None,
) -> dict[str, Path]:
    """This recipient's pictures by image variable: each URL fetched (or read from storage), or the
    variable's `fallback` brand picture when it cannot be had. Raises RemoteImageError naming the variable
    when there is no fallback (the render fails with that reason)."""
    pictures: dict[str, Path] = {}
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name, decl in declared.items():
        url = values.get(name, "")
        if decl.get("type") != "image" or not url:
            continue
        try:
            if IMAGE_UPLOAD.fullmatch(url):
                pictures[name] = _uploaded_image_fetch(workspace_id, url, dest_dir)
            else:
                pictures[name] = remote_image_fetch(url=url, dest_dir=dest_dir)
        except RemoteImageError as exc:
            fallback = brand.picture(decl["fallback"]) if decl.get("fallback") else None
            if fallback is None:
                raise RemoteImageError(f"image variable {name!r}: {exc}") from None
            pictures[name] = fallback
    return pictures


def _uploaded_image_fetch(workspace_id: object, reference: str, dest_dir: Path) -> Path:
    # Not through the worker's shared cache: an upload is a recipient's data, and an erasure must leave no
    # copy behind on the workers.
    key, storage = _upload_key(workspace_id, reference), get_storage()
    if not storage.exists(key):  # deleted since the render was accepted (an erasure, say)
        raise RemoteImageError(f"{reference}: {UPLOAD_MISSING}")
    return storage.fetch(key, dest_dir / reference.removeprefix("upload:"))
