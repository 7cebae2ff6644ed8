"""Errors the kit knows how to explain. The command line prints them as one line."""


class KitError(Exception):
    """Base class: a problem with a clear message and something the user can do about it."""


class InvalidSubmission(KitError):
    """The file is not a gradable notebook (not JSON, not a notebook, empty, no notebook in the zip...)."""


class DatasetUnavailable(KitError):
    """Fashion-MNIST is neither in the Keras cache nor installable from Debian's dataset-fashion-mnist."""


class GenerationFailed(KitError):
    """otter assign could not turn the master notebook into the student template and solution."""


class StaleGeneratedFiles(KitError):
    """student_template/ or solutions/ differ from what the master notebook generates."""


class CalibrationMissing(KitError):
    """solutions/reference_metrics.json is missing or unreadable, so there is no accuracy threshold."""


class ExportUnreadable(KitError):
    """What the submission's kernel exported is missing, too large or malformed."""
