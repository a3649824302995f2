"""The DDoS chapter (notebooks/ood/ddos.ipynb): its experiment."""
