"""`runwatch watch RUN` in a pseudo-terminal, as a user runs it over SSH: it must draw EXPECT
(text of the run's screen, e.g. "RUN ENDED: completed") and quit on `q` with status 0. Used by
.ci/wheel_check.

    python watch_in_pty.py RUNWATCH RUN_DIR EXPECT
"""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time

TIMEOUT_S = 60
ESCAPE = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def screen_text(output: bytes) -> str:
    """What the terminal showed, escape sequences dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", ESCAPE.sub(b" ", output).decode(errors="replace"))


def main(runwatch: str, run_dir: str, expect: str) -> int:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the monitor on an 80x24 terminal
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(runwatch, [runwatch, "watch", run_dir])
    seen, deadline, quit_sent = b"", time.monotonic() + TIMEOUT_S, False
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal: it is exiting
                break
        if not quit_sent and expect in screen_text(seen):
            time.sleep(1.0)  # let it settle, then quit as a user does
            os.write(fd, b"q")
            quit_sent = True
    else:
        os.kill(pid, 9)
        print(f"runwatch watch did not {'quit' if quit_sent else 'draw the run'} within "
              f"{TIMEOUT_S} s; the screen showed: {screen_text(seen)[-600:]}")
        return 1
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if not quit_sent:
        print(f"runwatch watch exited (status {code}) before showing {expect!r}: "
              f"{screen_text(seen)[-600:]}")
        return 1
    print(f"runwatch watch {run_dir}: showed {expect!r}, quit on q (status {code})")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
