"""Brand footage (asset kind `video`) as a clip background: transcoded once into the compositor's clip
intermediate (render/compose/clips.transcode_clip: H.264 MP4, BT.709, at most 1920 px, 30 fps) and kept in
storage by the upload's SHA-256, so every later render, of any brand that uploaded the same file, reads
the transcoded copy. Two workers may transcode the same new upload at once; either copy is valid."""

from __future__ import annotations

from pathlib import Path

from core.models import BrandAsset
from core.storage import get_storage, storage_exists_shared, storage_fetch_shared
from render.compose.clips import BRAND_CLIP_FPS, transcode_clip
from render.planning import GeneratedClip

# Bumped when transcode_clip's output changes, so old intermediates are not read as new ones.
BRAND_CLIP_VERSION = "1"


def brand_video_clip(*, asset: BrandAsset, workdir: Path) -> GeneratedClip:
    """The asset's transcoded clip in `workdir`, made (and stored) on first use."""
    key = f"brand-clips/{asset.sha256}-v{BRAND_CLIP_VERSION}.mp4"
    dest = workdir / "brand-video.mp4"
    if storage_exists_shared(key=key):
        return GeneratedClip(storage_fetch_shared(key=key, dest=dest), BRAND_CLIP_FPS)
    source = storage_fetch_shared(
        key=asset.storage_key, dest=workdir / f"brand-video-upload{Path(asset.storage_key).suffix}"
    )
    transcode_clip(source, out_path=dest, duration=float(asset.details.get("duration") or 60.0))
    get_storage().put_file(key, dest, content_type="video/mp4")
    return GeneratedClip(dest, BRAND_CLIP_FPS)
