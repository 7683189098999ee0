"""The nodule model: the served detector (`models.detection`), the tools around it
(`models.tooling`: training, tuning, evaluation, export), weights, the Triton repository and
the model card."""

__all__: list[str] = []
