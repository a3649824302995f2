"""The SlimPLM chapter (notebooks/rag/slimplm.ipynb): every method on the same questions, and the claims."""
