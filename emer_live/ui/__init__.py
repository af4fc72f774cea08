"""The desktop app (PySide6 + pyqtgraph): the only package that imports Qt. It draws what the
pipeline's LiveRunner publishes and computes nothing about emotions itself."""
