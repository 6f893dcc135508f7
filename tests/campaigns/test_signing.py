"""Outbound webhooks are signed by the Standard Webhooks reference library (docs/reliability.md R9), with the
wire format the hand-written signer had: checked against the spec's published example and verified by the
library's own `Webhook.verify`."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from campaigns.webhooks import secret_generate, sign

# The example in the Standard Webhooks specification (and the svix libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_is_the_specs() -> None:
    assert (
        sign(secret=SPEC_SECRET, message_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY)
        == SPEC_SIGNATURE
    )


def test_a_receiver_verifies_what_we_sign_with_the_library() -> None:
    secret = secret_generate()
    body = json.dumps({"type": "render.succeeded", "data": {"name": "Zoë"}}, ensure_ascii=False).encode()
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret=secret, message_id="msg_1", timestamp=now, body=body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "render.succeeded", "data": {"name": "Zoë"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)  # another endpoint's secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Zoë".encode(), b"Zoe"), headers)  # a changed body
