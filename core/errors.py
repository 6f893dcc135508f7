"""One business exception and one error shape: `{"message": ..., "fields": {path: [messages]}}`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApplicationError(Exception):
    """Raised by services for anything the caller can fix. Rendered by `core.exceptions.exception_handler`."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str | Sequence[str]] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = {
            path: [msgs] if isinstance(msgs, str) else list(msgs) for path, msgs in (fields or {}).items()
        }
        if status_code is not None:
            self.status_code = status_code


class ConflictError(ApplicationError):
    status_code = 409


class PaymentRequiredError(ApplicationError):
    status_code = 402


class NotFoundError(ApplicationError):
    """What every lookup of a missing *or foreign* object raises: the two are indistinguishable (R11)."""

    status_code = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class PayloadTooLargeError(ApplicationError):
    """A request body over the configured size (`DATA_UPLOAD_MAX_MEMORY_SIZE`): 413, in the one shape."""

    status_code = 413


class TooManyRequestsError(ApplicationError):
    """429: waiting fixes it. `retry_after` (seconds) becomes the `Retry-After` header."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
