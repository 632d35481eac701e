"""User-facing errors: every message says what is wrong and what to do about it."""

from __future__ import annotations


class DinoadError(Exception):
    """Base class for errors whose message is meant for the user as it is."""


class ConfigError(DinoadError, ValueError):
    """A project setting has a wrong type or value."""


class ProjectError(DinoadError):
    """A project is missing, misnamed, or its folder is not in the expected state."""


class ImageError(DinoadError):
    """An image file cannot be used (unreadable, not an image, unsupported format)."""


class StorageError(DinoadError):
    """A file could not be written (disk full, read-only folder); nothing was half-written."""


class ModelLoadError(DinoadError):
    """The backbone cannot be loaded; the message says how to get access or a local copy."""


class RetrainRequired(DinoadError):
    """The saved memory bank no longer matches the project's settings."""


class NotTrainedError(DinoadError):
    """The project has no memory bank yet."""
