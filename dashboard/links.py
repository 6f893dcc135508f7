"""One-time links to set a password: Django's password-reset token, which stops working once used (the
password hash it is made from changes) or after PASSWORD_RESET_TIMEOUT."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


def password_set_path(*, user: Any) -> str:
    return reverse(
        "dashboard:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
