"""Exceptions raised by the data registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..checks import restore_error


class DataError(Exception):
    """Base class of every data-registry error."""

    def __reduce__(self):  # its subclasses' __init__ take other arguments than their args
        return restore_error, (type(self), self.args, self.__dict__)


class UnknownDataError(DataError, KeyError, ValueError):
    """A name that is not in the registry (catchable as KeyError or ValueError)."""

    def __init__(self, name: str, allowed: Iterable[str]):
        self.name = name
        self.allowed = sorted(allowed)
        super().__init__(f"unknown data entry {name!r}; allowed names: {', '.join(self.allowed)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ChecksumError(DataError):
    """A file's sha256 differs from the one the registry expects."""

    def __init__(self, file: str, expected: str, actual: str, *, source: str | None = None, extra: str = ""):
        self.file = file
        self.expected = expected
        self.actual = actual
        self.source = source
        msg = f"checksum mismatch for {file}: expected sha256 {expected}, got {actual}"
        if source:
            msg += f" (from {source})"
        if extra:
            msg += "\n" + extra
        super().__init__(msg)


class DataUnavailableError(DataError):
    """No source could provide an entry. The message lists each source, why it failed and how to fix it."""

    def __init__(
        self, name: str, failures: Sequence[tuple[str, str]] = (), hints: Sequence[str] = (), message: str | None = None
    ):
        self.name = name
        self.failures = list(failures)
        self.hints = [h for h in dict.fromkeys(hints) if h]
        if message is None:
            message = format_failures(name, self.failures, self.hints)
        super().__init__(message)


def format_failures(name: str, failures: Sequence[tuple[str, str]], hints: Sequence[str]) -> str:
    lines = [f"{name!r} is not available: every source failed."]
    for i, (label, reason) in enumerate(failures, 1):
        lines.append(f"  {i}. {label}: {reason}")
    if hints:
        lines.append("To fix, any one of:")
        lines.extend(f"  - {h}" for h in dict.fromkeys(hints))
    return "\n".join(lines)
