"""Benchmarks that describe the product with numbers: ``python -m dinoad.bench speed|quality``.

``speed`` times the product's own code paths (backbone forward, kNN search, coreset, training and
live scoring) on random-weight models, next to the machine's measured matmul peak and peer
implementations (faiss, a PatchCore-style reference coreset), and reports ratios measured in one
run. ``quality`` runs the few-shot protocol (k training images, several seeds) on an MVTec AD
layout dataset. Nothing here is imported by the app or the engine.
"""
