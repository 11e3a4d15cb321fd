"""Errors a user can act on: the CLI prints them as one line and exits with code 2, never a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad input (a file, a field, an option): the message names the file or field and the problem."""

    exit_code = 2


class FetchError(Exception):
    """A fetch that could not complete after every retry; the message is the one-line summary."""

    exit_code = 1
