"""The chapters' experiments: one package per chapter, above the methods it runs.

``<chapter>/experiment.py`` holds what the chapter does with the methods — the loop over seeds, models or
questions, the comparisons, how samples are paired and how the tests combine into the claims table — and the
result objects its notebook glues; the notebook shows it with ``show_source`` after the design prose. The
chapter's configuration (profiles, budgets, the paper's numbers, the claims declared before any result) sits
below the methods, in :mod:`reprobook.configs`, so that a method may read its settings without importing the
layer that runs it. ``flat_minima`` holds what both sharpness chapters measure on their trained models.

Nothing here is imported by the package itself: a notebook (or a test) imports the chapter it needs.
"""
