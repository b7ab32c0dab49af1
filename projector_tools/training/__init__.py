"""The trainer: the seed notebook's model, its datasets, subword vocabulary and token statistics."""
