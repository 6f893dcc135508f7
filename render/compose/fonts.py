"""Which font draws a text: the brand's when it has every character, else a fallback that does.

drawtext draws with one font file and no fallback of its own, so a name in a script the brand font
lacks would come out as empty boxes ("tofu"). Before a text is fitted and drawn, its font is chosen
by glyph coverage (the font's character map): the brand font first, then Noto Sans (Latin, Greek,
Cyrillic), Noto Sans Arabic, Noto Sans Hebrew, Noto Sans CJK (Chinese, Japanese, Korean; it also
has Latin). Shaping (Arabic joining, right-to-left order) is drawtext's HarfBuzz + FriBiDi.

Noto's Arabic and Hebrew faces have no Latin letters, and one drawtext draws one font, so a line such
as "Hi אורי!" needs a font with both: `mixed_font` merges Noto Sans, Noto Sans Arabic and Noto Sans
Hebrew (Regular instances of the variable fonts) into one file, once per machine (about 10 CPU-s),
kept in the temp folder under a name derived from the inputs. It is tried after the single-script
fallbacks and before CJK (whose face has Latin but neither Arabic nor Hebrew).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from fontTools.merge import Merger  # type: ignore[import-untyped]
from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]
from fontTools.varLib import instancer  # type: ignore[import-untyped]

REGULAR_WEIGHT = 400  # OpenType usWeightClass "Regular": the weight the merged fallback is cut at


def _package_file(package: str, name: str) -> Path:
    return Path(str(resources.files(package).joinpath(name)))


@functools.cache
def fallback_fonts() -> tuple[Path, ...]:
    """The fallbacks, in the order they are tried after the brand font."""
    return (
        _package_file("fontpkg_noto_sans", "files/NotoSans[wdth,wght].ttf"),
        _package_file("manimgx_fonts", "NotoSansArabic[wght].ttf"),
        _package_file("manimgx_fonts", "NotoSansHebrew[wght].ttf"),
        # Face 0 of the collection (CJK JP), the face FreeType and Pillow open by default.
        _package_file("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc"),
    )


@functools.lru_cache(maxsize=64)
def _codepoints(path: Path) -> frozenset[int]:
    """The characters a font (face 0 of a collection) has glyphs for; empty for an unreadable file."""
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            with TTCollection(str(path), lazy=True) as collection:
                cmap = collection.fonts[0].getBestCmap()
        else:
            with TTFont(str(path), lazy=True) as font:
                cmap = font.getBestCmap()
    except Exception:
        return frozenset()
    return frozenset(cmap or {})


@functools.cache
def mixed_font() -> Path:
    """Noto Sans + Arabic + Hebrew in one static font, made once and kept (see the module docstring)."""
    sources = fallback_fonts()[:3]
    digest = hashlib.sha256("\0".join(f"{p.name}:{p.stat().st_size}" for p in sources).encode()).hexdigest()
    path = Path(tempfile.gettempdir()) / "reelsmith-fonts" / f"noto-mixed-{digest[:16]}.ttf"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        statics = []
        for index, source in enumerate(sources):
            font = TTFont(str(source))
            axes = {axis.axisTag: axis.defaultValue for axis in font["fvar"].axes} | {"wght": REGULAR_WEIGHT}
            static = Path(tmp) / f"{index}.ttf"
            instancer.instantiateVariableFont(font, axes).save(str(static))
            statics.append(str(static))
        partial = Path(tmp) / "merged.ttf"
        Merger().merge(statics).save(str(partial))
        os.replace(partial, path)  # atomic: a racing worker writes the same bytes
    return path


def _candidates(brand_font: Path) -> Iterator[Path]:
    yield brand_font
    *single, cjk = fallback_fonts()
    yield from single
    yield mixed_font()
    yield cjk


def font_for(text: str, brand_font: Path) -> Path:
    """The first of the brand font and the fallbacks that has every character of `text` (spaces and
    controls aside); when none has them all, the one that has the most (the earlier on a tie)."""
    wanted = {ord(ch) for ch in text if not ch.isspace() and ch.isprintable()}
    best, best_count = brand_font, -1
    for path in _candidates(brand_font):
        covered = len(wanted & _codepoints(path))
        if covered == len(wanted):
            return path
        if covered > best_count:
            best, best_count = path, covered
    return best
