"""The run on disk: the files TensorBoard's Projector reads, written atomically and read back."""
