"""Datasets: converters to the one on-disk format, the Dataset class and augmentation."""
