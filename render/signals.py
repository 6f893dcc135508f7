"""What other rooms hear from the render state machine.

`render_finished` is sent inside the transaction that moves a render to a final state (succeeded, failed,
canceled), once per render: the conditional update that finishes a render succeeds exactly once. Receivers
write their own rows in that same transaction (a ledger entry, a webhook delivery) and enqueue work with
`on_commit`, so a finished render and its consequences commit together or not at all (docs/reliability.md R2).
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with keyword arguments: render_id (UUID), workspace_id (UUID), status (str).
render_finished = Signal()

# Sent after a watch page's view or CTA click is recorded (not a duplicate, not a bot), inside the transaction
# that recorded it, with keyword arguments: render_id (UUID), workspace_id (UUID), kind ("view" or "cta"),
# first (bool: the render's first view / first click ever). Campaigns sends `video.viewed` / `cta.clicked`
# and writes the counts back to the CRM (campaigns/receivers.py).
watch_engaged = Signal()
