"""EMER Live: a real-time desktop monitor of facial expression (FER) vs genuine emotion (ER)."""

__version__ = "0.1.0"
