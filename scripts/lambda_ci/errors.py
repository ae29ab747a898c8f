"""The two ways a command fails, and their exit codes (DESIGN.md: 1 failed, 2 bad input)."""


# Every character that ends a line somewhere (str.splitlines: terminals, log viewers, editors), escaped.
_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


class LambdaCIError(Exception):
    exit_code = 1

    def line(self) -> str:
        """What `lambda-ci` prints after `lambda-ci <command>: `."""
        return str(self)


class BadInput(LambdaCIError):
    """A value the user gave is wrong. Raised before any AWS call; printed as one line, exit 2.

    keep_lines: the message's line breaks are its own (a YAML snippet to paste), not a quoted value's.
    """

    exit_code = 2

    def __init__(self, message: str, *, keep_lines: bool = False) -> None:
        super().__init__(message)
        self.keep_lines = keep_lines

    def line(self) -> str:
        # One line, always: messages quote the values they refuse, and a value may hold a line break (or a
        # carriage return, which would hide the start of the line in a terminal or a job log).
        text = str(self)
        if self.keep_lines:
            return text
        return text.translate(_LINE_BREAKS)


class OperationFailed(LambdaCIError):
    """The operation ran and failed (AWS said no, a smoke test failed, lint found problems): exit 1."""

    exit_code = 1
