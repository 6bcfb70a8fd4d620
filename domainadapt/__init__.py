"""domainadapt: domain adaptation strategies for scikit-learn and PyTorch."""

__version__ = "0.1.0"
