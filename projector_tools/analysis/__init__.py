"""Looking at a run's points: layouts (UMAP, t-SNE, PCA) and clusters, neighbours, plots."""
