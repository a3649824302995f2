"""reprobook: the tested helpers behind the reproducibility book.

Every notebook in ``notebooks/`` imports what it needs from here; notebooks define no reusable code.
Each module's docstring names the chapter that explains it.
"""

__version__ = "0.1.0"
