"""Faro's exceptions: one hierarchy, caught at the edges (web handlers, CLI, worker)."""


class FaroError(Exception):
    """Base of every error Faro raises on purpose."""


class ConfigError(FaroError):
    """The environment or the app config is missing or wrong."""


class ContentError(FaroError):
    """A flow or data file is invalid; the message names the file and the node."""


class StoreUnavailable(FaroError):
    """Redis did not answer."""


class ContactBusy(FaroError):
    """Another request held the contact's lock for too long."""


class BadRequest(FaroError):
    """A request from the network is malformed (answered with a 4xx)."""

    status = 400


class Forbidden(BadRequest):
    """A request's signature or secret is missing or wrong."""

    status = 403


class DeliveryError(FaroError):
    """A provider refused or failed to take an outbound message.

    `retry` says whether trying again may work (429, 5xx, a network error), `wait` how
    many seconds the provider asked for (or None), and `code` the provider's error code.
    """

    def __init__(self, message: str, *, retry: bool = False, wait: float | None = None,
                 code: str = ""):
        super().__init__(message)
        self.retry, self.wait, self.code = retry, wait, code


class MediaRefused(FaroError):
    """Media a person sent that Faro will not keep; `reason` names the message they get."""

    def __init__(self, reason: str):  # "too_big", "wrong_type" or "failed"
        super().__init__(reason)
        self.reason = reason


class MediaUnavailable(FaroError):
    """The provider did not answer or asked us to wait: worth another try later."""
