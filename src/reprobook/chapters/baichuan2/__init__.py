"""The Baichuan 2 chapter (notebooks/alignment/baichuan2.ipynb): its data, settings and claim tests."""
