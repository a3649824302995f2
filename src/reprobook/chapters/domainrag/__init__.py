"""The DomainRAG chapter (notebooks/rag/domainrag.ipynb): settings and reading, likelihood scoring, the analysis."""
