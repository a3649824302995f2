"""The PAS chapter (notebooks/alignment/pas.ipynb): the split, the PAS variants and the claims."""
