"""Dayuan land-release dashboard: the product's logic, free of Streamlit."""

__version__ = "0.1.0"
