"""The project's small error tree: what went wrong, and whether trying again can help.

    AssistantError
    ├── InputError              bad input from a person: a file, a config, a command (exit 2)
    ├── StoreUnwritable         the store cannot write (a full disk): a row that must exist doesn't
    ├── UnsupportedAccount      an account of a kind the service refuses (Portfolio Margin): exit 3
    └── ExchangeError           Binance answered with an error, or did not answer
        ├── Retryable           trying again later can succeed
        │   ├── RateLimited     429: slow down until `retry_after`
        │   ├── Banned          418: no request at all until `retry_after`
        │   ├── ClockSkew       -1021: resync the clock, then retry (BinanceRest does, once)
        │   └── OutcomeUnknown  5xx or a timeout: a write may have happened; reconcile first
        └── Rejected            the request is wrong for this account now; retrying won't help

Vendor exceptions are translated once, in `binance/rest.py`, by Binance's own `code` and the
HTTP status, so behaviour is the same against Binance, demo trading and the emulator.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error this project raises on purpose."""

    retryable = False


class InputError(AssistantError):
    """Input a person gave us is malformed; the message says where and why."""


class StoreUnwritable(AssistantError):
    """A row that must be committed before anything else happens (an intent) was not."""


class UnsupportedAccount(AssistantError):
    """The account is of a kind the service cannot compute yet (Portfolio Margin): it stops
    rather than run with wrong figures (`assistant run` exits 3; systemd does not restart it)."""


class ExchangeError(AssistantError):
    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class Retryable(ExchangeError):
    retryable = True
    retry_after: float = 1.0


class RateLimited(Retryable):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after


class Banned(RateLimited):
    pass


class ClockSkew(Retryable):
    pass


class OutcomeUnknown(Retryable):
    """The request may or may not have taken effect (Binance: 5xx means unknown)."""


class BadResponse(Retryable):
    """The exchange answered something we cannot read (a body not shaped as Binance's)."""


class Rejected(ExchangeError):
    """Binance refused the request (margin insufficient, reduce-only rejected, bad key, ...)."""
