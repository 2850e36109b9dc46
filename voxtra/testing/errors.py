"""Errors of the test tooling; each message says what to do about it."""


class SandboxError(RuntimeError):
    """The sandbox Asterisk cannot be built, started or stopped."""


class SippError(RuntimeError):
    """SIPp is missing or could not run the scenario."""
