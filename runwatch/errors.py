"""The one exception type users can cause (bad config, bad file, bad value).

Kept torch-free and dependency-free so every package and CLI can raise and catch it;
the CLI turns it into one line on stderr and exit status 2.
"""


class RunwatchError(Exception):
    """A problem the user can fix; the message names the problem and the fix, in one line."""
