"""The refusal every part of the draft raises when the files or the flags do not allow one."""


class DraftError(ValueError):
    """The files or the flags do not allow a draft; the message says what to pass or fix."""
