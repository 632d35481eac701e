"""Loaded by Python at start-up when this folder is on PYTHONPATH: guards the whole process."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import network_guard

network_guard.install([])
