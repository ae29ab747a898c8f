"""The two ways a command fails, and their exit codes (DESIGN.md: 1 failed, 2 bad input)."""


class LambdaCIError(Exception):
    exit_code = 1


class BadInput(LambdaCIError):
    """A value the user gave is wrong. Raised before any AWS call; printed as one line, exit 2."""

    exit_code = 2


class OperationFailed(LambdaCIError):
    """The operation ran and failed (AWS said no, a smoke test failed, lint found problems): exit 1."""

    exit_code = 1
