"""What both sharpness chapters measure on their trained models (notebooks/sharpness/)."""
