"""The version of tarpose (a leaf module: the command line reads it without importing the package)."""

__version__ = "0.1.0"
