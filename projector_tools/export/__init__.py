"""Writing runs: export_embeddings, the Keras callback, activations, layouts added to a run."""
