"""dbleak: finds leaked database resources and unbounded reads in Python code."""

__version__ = "0.1.0"
