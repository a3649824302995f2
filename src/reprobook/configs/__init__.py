"""Every chapter's configuration: one module per chapter (plus shared bases), each registering its chapter.

A module here holds the chapter's frozen configuration dataclass (whose fields cite where each value
comes from), its values in the ``tiny``, ``smoke`` and ``paper`` profiles with the smoke budget, and
the paper numbers the chapter quotes, with their source. Nothing here imports torch: ``reprobook data``
and the runner read these modules without loading the heavy libraries. A chapter's experiment, above the
methods, is in :mod:`reprobook.chapters`; the methods read their settings here.

Every module of this package is imported (and so registered) by :func:`load_all`, which
:mod:`reprobook.profiles` calls when a configuration is first asked for; :mod:`.registry` holds the table.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every configuration module (each registers its chapter in :mod:`.registry`)."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")
