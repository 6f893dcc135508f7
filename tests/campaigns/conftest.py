from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _outbound_to_loopback(settings: Any) -> None:
    """The fake receivers listen on 127.0.0.1; the SSRF tests switch this back off."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
