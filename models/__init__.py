"""The nodule model: contract, Lung-RADS rules, detector, training, export, Triton repository."""
