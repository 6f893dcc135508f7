"""C2PA manifests on output MP4s, signed offline with a configured ES256 certificate chain.

The manifest says how the file was made and by whom:
- `c2pa.actions`: `c2pa.created` with an IPTC digital source type and the models that drew pictures or
  clips (`parameters.models`). `compositeWithTrainedAlgorithmicMedia` when a model drew some of it and the
  rest (texts, logos, brand footage, a voice, music, the layout) is not the model's: what nearly every
  template makes; `trainedAlgorithmicMedia` when models drew everything on screen and nothing else was
  added; `algorithmicMedia` when no model drew anything (composed by software from people's parts).
- The template version's authors (people and their roles), as the creative work's authors, twice: a
  `stds.schema-org.CreativeWork` assertion (`author`: schema.org Persons, the role as `jobTitle`, since a
  Person has no role property), which C2PA 1.x readers display but which C2PA 2.x dropped (c2pa-rs reads it
  still, deprecated since 0.59), and a `cawg.metadata` assertion (the Creator Assertions Working Group's
  metadata assertion, the 2.x place for it) with XMP's `dc:creator` and IPTC Extension `Contributor`
  (name and role).
c2pa-python (the C2PA Rust SDK) embeds it as a `uuid` box and hashes the rest of the
file (BMFF hash), so the signed file plays and probes as before. No timestamp authority is asked (the
renderer has no network beyond storage), so a signature is valid while the signing certificate is.

Configuration, read once per process (as `REELSMITH_FFMPEG` is):
- `REELSMITH_C2PA_CERT`: a PEM file with the signing certificate first, then its issuers (not the root);
- `REELSMITH_C2PA_KEY`: the PEM (PKCS#8) private key of that certificate, P-256 (ES256);
- `REELSMITH_C2PA_SIGN`: `1`/`0` to force signing on or off; unset, it is on when both files are set.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.compose.ffmpeg import ComposeError

SIGN_ENV, CERT_ENV, KEY_ENV = "REELSMITH_C2PA_SIGN", "REELSMITH_C2PA_CERT", "REELSMITH_C2PA_KEY"
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), as C2PA asks for them.
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE_MADE = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
AI_COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
# XMP namespaces of the cawg.metadata assertion's JSON-LD (Dublin Core; IPTC Photo Metadata Extension).
XMP_DC = "http://purl.org/dc/elements/1.1/"
XMP_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"


@dataclass(frozen=True, slots=True)
class Credit:
    """A person credited for the work (a template version's author) and what they did."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class C2paCredentials:
    cert_chain_pem: bytes
    private_key_pem: bytes


@functools.cache
def c2pa_credentials() -> C2paCredentials | None:
    """The configured signing credentials, or None when signing is off."""
    cert, key, switch = (
        os.environ.get(CERT_ENV, ""),
        os.environ.get(KEY_ENV, ""),
        os.environ.get(SIGN_ENV, ""),
    )
    enabled = switch.strip().lower() in ("1", "true", "yes", "on") if switch.strip() else bool(cert and key)
    if not enabled:
        return None
    if not (cert and key):
        raise ComposeError(f"{SIGN_ENV} is on but {CERT_ENV} and {KEY_ENV} are not both set")
    try:
        return C2paCredentials(Path(cert).read_bytes(), Path(key).read_bytes())
    except OSError as exc:
        raise ComposeError(f"cannot read the C2PA certificate or key: {exc}") from exc


def c2pa_manifest(
    *,
    title: str,
    models: list[str],
    generator: str = "Reelsmith",
    authors: Sequence[Credit] = (),
    composite: bool = False,
) -> dict[str, Any]:
    """The manifest definition: who made the file, how, with which models. `composite`: the file has parts
    no model drew (see the module's docstring)."""
    source = (AI_COMPOSITE if composite else AI_GENERATED) if models else SOFTWARE_MADE
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": source,
        "softwareAgent": {"name": generator},
    }
    if models:
        action["parameters"] = {"models": models}
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": [action]}}]
    if authors:
        assertions += [
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "https://schema.org",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": a.name, "jobTitle": a.role} for a in authors],
                },
            },
            {
                "label": "cawg.metadata",
                "data": {
                    "@context": {"dc": XMP_DC, "Iptc4xmpExt": XMP_IPTC_EXT},
                    "dc:creator": [a.name for a in authors],
                    "Iptc4xmpExt:Contributor": [
                        {"Iptc4xmpExt:Name": a.name, "Iptc4xmpExt:Role": [a.role]} for a in authors
                    ],
                },
            },
        ]
    return {"claim_generator_info": [{"name": generator}], "title": title, "assertions": assertions}


def c2pa_sign(
    path: Path,
    credentials: C2paCredentials,
    *,
    title: str,
    models: list[str],
    authors: Sequence[Credit] = (),
    composite: bool = False,
) -> None:
    """Sign the MP4 at `path` in place (written beside it, then moved over it)."""
    import c2pa  # 50 MB native library: loaded only where signing is on

    partial = path.with_name(f".{path.stem}.c2pa{path.suffix}")
    try:
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, credentials.cert_chain_pem, credentials.private_key_pem, None
        )
        with (
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(
                json.dumps(c2pa_manifest(title=title, models=models, authors=authors, composite=composite))
            ) as builder,
        ):
            builder.sign_file(path, partial, signer)
        os.replace(partial, path)
    except c2pa.C2paError as exc:
        raise ComposeError(f"C2PA signing failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def c2pa_read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The active manifest of a file and the SDK's validation state (`Valid`, `Invalid`, ...)."""
    import c2pa

    with c2pa.Reader(path) as reader:
        return reader.get_active_manifest(), reader.get_validation_state()
