"""Offline training: dataset conversion, training, evaluation. Imports stfnet, never the GUI."""
