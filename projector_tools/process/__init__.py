"""Process plumbing: Ctrl-C, the supervisor, a quiet TensorFlow import, the program's one voice."""
