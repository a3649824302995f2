"""The m-ARWP chapter (notebooks/sharpness/marwp.ipynb): its analyses and claim tests."""
