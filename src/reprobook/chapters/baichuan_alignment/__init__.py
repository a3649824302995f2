"""The Baichuan Alignment chapter (notebooks/alignment/baichuan_alignment.ipynb): its experiment."""
