"""The plugin contract: SearchSpace, Strategy, Evaluator, CostModel, the SearchContext they see, hooks and errors."""

__version__ = "0.1.0"
