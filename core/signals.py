"""What apps above core hear from it (docs/architecture.md, "Layers": the link is inverted, never imported).

`likeness_withdrawn` is sent when a consent is revoked or runs out (core.consent.consent_lapse), with keyword
arguments workspace_id (UUID), consent_id (UUID), asset_ids (the consent's BrandAsset ids), references (what
was made with it, `render:<id>`, core.models.ConsentUse) and reason (str).
Receivers (render: cancel what still renders with those assets, erase what was made with them) are connected
in their app's `ready()` with a dispatch_uid, and must be safe to run twice.
"""

from __future__ import annotations

from django.dispatch import Signal

likeness_withdrawn = Signal()
