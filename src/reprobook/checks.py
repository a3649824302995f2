"""Argument checks: one exception type and one signature for every parameter the book accepts.

Every check is ``check_<kind>(name, value, ...)``: it returns the value (converted to a plain Python
type where that helps) or raises :class:`ParameterError`, which names the parameter, repeats the value
and says what is allowed. ``ParameterError`` subclasses ``ValueError``, so callers that catch
``ValueError`` keep working.

>>> check_int("epochs", 3, low=1)
3
>>> check_choice("profile", "smoke", ("tiny", "smoke", "paper"))
'smoke'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

DEVICES_HELP = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
# the torch floating-point types a model may be held in, by name (configurations check them without torch)
PRECISIONS = ("float32", "float16", "bfloat16", "float64")


def restore_error(cls: type[BaseException], args: tuple, state: dict[str, Any]) -> BaseException:
    """An exception of ``cls`` with ``args`` and attributes ``state``, without calling its ``__init__``: what an
    exception whose ``__init__`` takes other arguments than its ``args`` unpickles through (``__reduce__``), so that
    it crosses from a worker process (:func:`reprobook.pool.train_many`) whole."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ParameterError(ValueError):
    """A notebook, command-line or function parameter has a value outside what is allowed."""

    def __init__(self, name: str, value: Any, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"invalid value for parameter '{name}': {value!r}; allowed: {allowed}")

    def __reduce__(self):
        return restore_error, (type(self), self.args, self.__dict__)


def _range_text(kind: str, low: Any, high: Any, low_inclusive: bool = True, high_inclusive: bool = True) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    return kind + (" " + " and ".join(parts) if parts else "")


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    try:
        ok = value in allowed
    except TypeError:  # an unhashable value compared against a set-like
        ok = False
    if not ok:
        raise ParameterError(name, value, ", ".join(repr(a) for a in allowed))
    return value


def check_choices(
    name: str, values: Any, allowed: Iterable[Any], *, required: Any = None, why: str = ""
) -> tuple[Any, ...]:
    """A non-empty list of names from ``allowed`` (duplicates dropped, order kept); it must contain
    ``required`` when given (``why`` says what that one is for)."""
    allowed = tuple(allowed)
    text = ", ".join(repr(a) for a in allowed)
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        raise ParameterError(name, values, f"a non-empty list of {text}")
    for v in values:
        check_choice(name, v, allowed)
    if required is not None and required not in values:
        raise ParameterError(name, values, f"a list that includes {required!r}" + (f" ({why})" if why else ""))
    return tuple(dict.fromkeys(values))


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool) within ``[low, high]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        ok = (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        raise ParameterError(name, value, _range_text("an integer", low, high))
    return int(value)


def check_optional_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int | None:
    """None, or :func:`check_int`."""
    return None if value is None else check_int(name, value, low=low, high=high)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """A finite real number (not a bool) within the given bounds; returned as a float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (low is None or (v >= low if low_inclusive else v > low)) and (
            high is None or (v <= high if high_inclusive else v < high)
        )
    if not ok:
        raise ParameterError(name, value, _range_text("a finite number", low, high, low_inclusive, high_inclusive))
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    return check_number(name, value, low=0.0, low_inclusive=False)


def check_fraction(name: str, value: Any, *, open_low: bool = True, open_high: bool = False) -> float:
    """A number in (0, 1] by default; ``open_low`` / ``open_high`` choose which ends are excluded."""
    return check_number(name, value, low=0.0, high=1.0, low_inclusive=not open_low, high_inclusive=not open_high)


def check_seed(name: str, value: Any) -> int:
    """A random seed: a non-negative integer."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0  # type: ignore[operator]  # typeshed: numbers.Integral lacks __ge__ (int, np.int64 have it)
    if not ok:
        raise ParameterError(name, value, "a non-negative integer")
    return int(value)


def check_str(name: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ParameterError(name, value, "a non-empty string")
    return value


def check_device(name: str, value: Any) -> str:
    """A device name: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    ok = isinstance(value, str) and (
        value in ("auto", "cpu", "cuda", "mps") or (value.startswith("cuda:") and value[5:].isdigit())
    )
    if not ok:
        raise ParameterError(name, value, DEVICES_HELP)
    return value


def check_type(name: str, value: Any, types: type | tuple[type, ...], what: str) -> Any:
    """``value`` if it is an instance of ``types``; ``what`` describes them for the message."""
    if not isinstance(value, types):
        raise ParameterError(name, value, what)
    return value
