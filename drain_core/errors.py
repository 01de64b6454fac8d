"""The one exception type users see: a problem they can fix, reported in one line."""


class DrainError(Exception):
    """A user-facing error: its message names what was wrong and how to fix it.

    The CLI prints the message on one line and exits with status 2; it never shows a traceback.
    """


class InsufficientData(Exception):
    """A statistic or a thesis claim cannot be computed from the data at hand (not a user error:
    the report shows the reason in place of the number)."""


class EnvironmentFault(DrainError):
    """Not the user's mistake: the disk, the file system, the network or a data source failed.

    Reported like any DrainError (one line naming the problem and the fix) but with exit
    status 1, the status of a fault in the environment rather than in the command.
    """
