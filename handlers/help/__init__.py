"""/help and /start: the command list, in the group's language; and the answer to an unknown command (router.py)."""
