"""Helpers for the MNIST course: data, models, receptive field, augmentation, training."""
