"""Typed errors of the ARI client (the control plane)::

    VoxtraError
    └── AriError
        ├── AriConnectionError        Asterisk cannot be reached
        ├── AriTlsError               its certificate is not trusted
        ├── AriAuthError              401/403: the ARI user or password
        ├── AriNotEnabledError        ARI is not enabled on that HTTP server
        ├── ApplicationReplacedError  another connection took the Stasis application
        └── AriHttpError              any other HTTP error status
            ├── BadRequestError       400
            ├── NotFoundError         404
            ├── ConflictError         409
            └── UnprocessableError    422

The HTTP part follows the HTTP statuses ARI documents for its resources:
400 (a parameter is invalid or names nothing), 404 (the channel, bridge,
playback or recording is gone), 409 (wrong state, e.g. the channel is not in
Stasis), 422 (a referenced resource does not exist), 401/403 (credentials).
Messages never contain credentials.
"""

from __future__ import annotations

from voxtra.errors import VoxtraError


class AriError(VoxtraError):
    """Base of every error raised by :mod:`voxtra.ari`."""


class AriConnectionError(AriError):
    """Asterisk cannot be reached (refused, reset, timed out)."""


class AriTlsError(AriError):
    """ARI over TLS (https/wss) failed: its certificate is not vouched for by the trusted
    CAs (``ari_ca_file``) or names another host, or the port does not speak TLS.

    Not an :class:`AriConnectionError`, so never retried: it needs a configuration change.
    """


class AriAuthError(AriError):
    """ARI refused the credentials (HTTP 401/403)."""


class AriNotEnabledError(AriError):
    """Asterisk's HTTP server answers at the address, but ARI is not enabled there."""


class ApplicationReplacedError(AriError):
    """Another connection took over this Stasis application name.

    Asterisk allows one event websocket per application; the newer connection
    wins and the older one gets ``ApplicationReplaced``.
    """


class AriHttpError(AriError):
    """ARI answered a REST request with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


class BadRequestError(AriHttpError):
    """400: a parameter is missing or invalid (e.g. ``app`` together with ``extension``)."""


class NotFoundError(AriHttpError):
    """404: the resource does not exist (any more)."""


class ConflictError(AriHttpError):
    """409: the resource is in the wrong state for this request."""


class UnprocessableError(AriHttpError):
    """422: the request names a resource or value that ARI cannot use."""


def http_error(method: str, path: str, status: int, message: str) -> AriHttpError:
    """The most specific :class:`AriHttpError` subclass for ``status``."""
    cls: type[AriHttpError] = {
        400: BadRequestError,
        404: NotFoundError,
        409: ConflictError,
        422: UnprocessableError,
    }.get(status, AriHttpError)
    return cls(method, path, status, message)
