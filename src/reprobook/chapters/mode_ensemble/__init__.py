"""The mode-ensemble chapter (notebooks/ood/mode_ensemble.ipynb): its claim tests."""
