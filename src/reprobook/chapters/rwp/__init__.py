"""The RWP chapter (notebooks/sharpness/rwp.ipynb): its analyses and claim tests."""
