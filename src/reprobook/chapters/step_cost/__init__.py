"""The step-cost chapter (notebooks/sharpness/step_cost.ipynb): its checks, measurement and claim tests."""
