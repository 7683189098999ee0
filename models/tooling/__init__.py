"""Tools around the detector: training, mining, tuning, evaluation (FROC, Lung-RADS agreement),
ensembles, export and the model report. Not imported by anything that serves."""

__all__: list[str] = []
