"""Small builders shared by the tests."""

from __future__ import annotations

from pathlib import Path

import nbformat


def make_notebook(path: Path, body: str, params: str = 'profile = "smoke"\nseed = 0\ndevice = "auto"\ndata_dir = None\n') -> Path:
    """A notebook with a ``parameters`` cell and one code cell ``body``."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A test chapter"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "reprobook", "display_name": "Python 3 (reprobook)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
