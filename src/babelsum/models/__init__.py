"""Models: loading by hub id or folder, tiny test models, greedy batched generation."""
