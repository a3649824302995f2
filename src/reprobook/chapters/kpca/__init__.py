"""The Kernel PCA chapter (notebooks/ood/kpca.ipynb): its experiment and figures."""
