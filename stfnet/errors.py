"""Errors a user can act on. The CLI prints their message as one sentence and exits non-zero."""


class UserError(Exception):
    """A mistake in the user's input: the message names the thing and what to do."""


class LayoutError(UserError, ValueError):
    """A skeleton layout, or a remap to one, is malformed or unknown."""


class CheckpointError(UserError):
    """A checkpoint cannot be read, or does not fit the model or data it is used with."""


class SourceError(UserError):
    """A camera, video or keypoint file cannot be opened or read to the end."""


class DatasetError(UserError):
    """A dataset file is missing, unreadable or malformed."""
