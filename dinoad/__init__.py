"""dinoad: few-shot visual inspection with DINOv3 patch features and a kNN memory bank."""

import os

# OpenMP threads that spin-wait starve the web server and video threads of a live app
# (measured: 0.25 s per frame became 1.1 s under load). Must be set before torch starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
