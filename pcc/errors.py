class UserError(Exception):
    """A problem with the user's input or setup: shown as one clear message, never a traceback.

    The message names the file, line or field at fault and says what to do about it.
    """


class TooLarge(UserError):
    """A file refused for what reading it would take (an archive that expands too far): the service answers 413."""
