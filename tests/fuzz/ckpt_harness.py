"""Drive one fuzz input through the public checkpoint API and check every promise it makes.

In-process, for speed: `inspect_checkpoint` (and its report), `plan_edit` + `write_edit` (and
the plan's report), `diff_checkpoints` against the seed (tensor values too, but for HF folders,
whose tensors are in their files; and its report), and for inputs made from the runwatch seed,
`plan_rewind` + `apply_rewind` in a copy of the seed's run.
Each call ends in success or a one-line RunwatchError; anything else is a finding:

- traceback: any other exception (its site: the innermost frame in our code);
- hang: a call still running after TIMEOUT_S (a SIGALRM interrupts it);
- memory: a call whose peak resident memory is MEMORY_BUDGET over its start (memory_start),
  or MemoryError;
- code ran: the canary file a payload would create exists;
- bad output: a file `edit`/`rewind` wrote that torch.load(weights_only=True) refuses;
- left behind: a refused write that left a file; input changed: the input's bytes changed;
- escape: report text (what the CLI prints) holding a control character but newlines.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import random
import resource
import shutil
import signal
import stat
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ckpt_hostile import Case
from ckpt_mutants import HF_SEED, RUNWATCH_RUN, ZIP_SEEDS, torch_tree

from runwatch.ckpt_tools import (
    EditRequest,
    apply_rewind,
    diff_checkpoints,
    inspect_checkpoint,
    plan_edit,
    plan_rewind,
    write_edit,
)
from runwatch.ckpt_tools.report import format_diff, format_info, format_plan
from runwatch.errors import RunwatchError
from runwatch.terminal import printable

TIMEOUT_S = 10.0
# How much resident memory one call may add at its peak (a few MB is usual; the inputs are
# under 2 MB, so anything near this is an expansion, not the input).
MEMORY_BUDGET = 100 << 20
REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ckpt_tools", "runwatch", "stream", "trainer", "forecast", "tui")  # repo folders
REQUESTS = (EditRequest(t0=7), EditRequest(lr=0.02), EditRequest(epochs=40),
            EditRequest(eta_min=1e-5, continuity="match-lr"), EditRequest(schedule="cosine"))
OPS = ("inspect", "edit", "diff", "rewind")
FAILURES = ("traceback", "hang", "memory", "code ran", "bad output", "left behind",
            "input changed", "escape", "multi-line error")


class Hang(BaseException):
    """Raised in a call that ran past its deadline (a BaseException: no `except Exception` in
    the code under test swallows it)."""


@dataclass
class Finding:
    problem: str  # one of FAILURES
    op: str
    detail: str
    site: str = ""  # traceback: "ckpt_tools/plan.py:123 in _group_values"


@dataclass
class Result:
    case: Case
    outcomes: dict[str, str] = field(default_factory=dict)  # op -> ok / refused / failed
    findings: list[Finding] = field(default_factory=list)


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise Hang in the block after `seconds`; restores an outer timer (pytest-timeout's)."""
    def expire(_signum, _frame):
        raise Hang(f"still running after {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, expire)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            left = max(old_delay - (time.monotonic() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def memory_start() -> int:
    """Where a call's peak resident memory is measured from. Linux resets the process's peak
    (VmHWM, which ru_maxrss reports) on a write of 5 to /proc/self/clear_refs; where that file
    cannot be written, the peak is the process's since it started, and a call is then seen
    only when it lifts that peak."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _peak()


def memory_added(start: int) -> int:
    """How far the peak resident memory rose over `start` (bytes)."""
    return _peak() - start


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10  # Linux counts KiB


def site_of(exc: BaseException) -> str:
    """The innermost frame of the traceback that is in this repository's package code."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if REPO in path.parents and path.relative_to(REPO).parts[0] in PACKAGES:
            where = f"{path.relative_to(REPO)}:{frame.lineno} in {frame.name}"
    return where or "outside our code"


def fingerprint(path: Path) -> str | None:
    """A hash of a regular file or of a folder's regular files (None for anything else)."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    h = hashlib.sha256()
    if stat.S_ISREG(mode):
        h.update(path.read_bytes())
    elif stat.S_ISDIR(mode):
        for child in sorted(path.iterdir()):
            if child.is_file() and not child.is_symlink():
                h.update(child.name.encode() + child.read_bytes())
    else:
        return None
    return h.hexdigest()


def unprintable(text: str) -> bool:
    return any(printable(line) != line for line in text.split("\n"))


class Driver:
    """Runs cases in `work` (a scratch folder), counting outcomes."""

    def __init__(self, work: Path, canary: Path) -> None:
        self.work, self.canary = work, canary
        self.results: list[Result] = []

    def run(self, cases: Iterable[Case]) -> list[Result]:
        for case in cases:
            self.results.append(self.drive(case))
        return self.results

    def warm_up(self, cases: Iterable[Case]) -> None:
        """Drive `cases` once, uncounted: the modules a first call imports (torch's and timm's
        schedulers for the replays) are not charged to the first input that needs them."""
        for case in cases:
            self.drive(case)

    def drive(self, case: Case) -> Result:
        folder = self.work / f"case-{len(self.results)}"
        folder.mkdir()
        result = Result(case)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's and zipfile's, about hostile inputs
                self._drive(case, folder, result)
        finally:
            if self.canary.exists():
                result.findings.append(Finding("code ran", "all", f"{self.canary} exists"))
                self.canary.unlink()
            shutil.rmtree(folder, ignore_errors=True)
        return result

    def _drive(self, case: Case, folder: Path, result: Result) -> None:
        path = case.make(folder)
        before = fingerprint(path)
        self._inspect(result, path)
        self._edit(result, path, folder)
        self._diff(result, path)
        if case.seed == "runwatch":
            self._rewind(result, path, folder)
        if fingerprint(path) != before:
            result.findings.append(Finding("input changed", "all", str(path)))

    def _call(self, result: Result, op: str, fn: Callable[[], object]) -> object | None:
        """`fn()`'s value, or None after a refusal or a finding (recorded)."""
        memory = memory_start()
        problem, detail, site, value = None, "", "", None
        try:
            with deadline(TIMEOUT_S):
                value = fn()
            result.outcomes.setdefault(op, "ok")
        except RunwatchError as exc:
            result.outcomes[op] = "refused"
            if "\n" in str(exc):
                problem, detail = "multi-line error", str(exc)
        except Hang as exc:
            problem, detail, site = "hang", str(exc), site_of(exc)
        except MemoryError as exc:
            problem, detail, site = "memory", "MemoryError", site_of(exc)
        except Exception as exc:  # noqa: BLE001 - every other exception is what we look for
            problem, detail, site = "traceback", f"{type(exc).__name__}: {exc}"[:300], \
                site_of(exc)
        added = memory_added(memory)
        if problem is None and added > MEMORY_BUDGET:
            problem, detail = "memory", f"the call's peak RSS was {added >> 20} MiB over its start"
        if problem is not None:
            result.outcomes[op] = "failed"
            result.findings.append(Finding(problem, op, detail, site))
            return None
        return value

    def _check_text(self, result: Result, op: str, text: str) -> None:
        if unprintable(text):
            bad = next(line for line in text.split("\n") if printable(line) != line)
            result.findings.append(Finding("escape", op, printable(bad)[:200]))

    def _inspect(self, result: Result, path: Path) -> None:
        info = self._call(result, "inspect", lambda: inspect_checkpoint(path))
        if info is not None:
            text = self._call(result, "inspect", lambda: format_info(info))
            if text is not None:
                self._check_text(result, "inspect", text)
            self._call(result, "inspect", lambda: json.dumps(info.to_dict()))  # as --json

    def _edit(self, result: Result, path: Path, folder: Path) -> None:
        request = random.Random(result.case.label).choice(REQUESTS)
        plan = self._call(result, "edit", lambda: plan_edit(path, request))
        if plan is None:
            return
        text = self._call(result, "edit", lambda: format_plan(plan))
        if text is not None:
            self._check_text(result, "edit", text)
        out_dir = folder / "edit-out"
        out_dir.mkdir()
        written = self._call(result, "edit", lambda: write_edit(plan, out_dir / "out.pt"))
        if written is not None:
            self._check_loadable(result, "edit", Path(written))
        elif result.outcomes.get("edit") == "refused" and list(out_dir.iterdir()):
            result.findings.append(Finding("left behind", "edit", str(list(out_dir.iterdir()))))

    def _diff(self, result: Result, path: Path) -> None:
        seed = result.case.seed
        other = HF_SEED if seed == "hf" else ZIP_SEEDS.get(seed, path)
        values = seed != "hf"  # a folder's tensors are in its files: refused with --values
        diff = self._call(result, "diff", lambda: diff_checkpoints(other, path, values=values))
        if diff is not None:
            text = self._call(result, "diff", lambda: format_diff(diff))
            if text is not None:
                self._check_text(result, "diff", text)

    def _rewind(self, result: Result, path: Path, folder: Path) -> None:
        run = folder / "run"
        shutil.copytree(RUNWATCH_RUN, run)
        target = run / "checkpoints" / "epoch-0002.pt"
        target.unlink()
        try:
            shutil.copyfile(path, target)
        except OSError:
            return  # not a file that can stand in a run
        files = set(run.rglob("*"))
        request = random.Random(result.case.label + "rewind").choice((None, *REQUESTS))
        plan = self._call(result, "rewind", lambda: plan_rewind(run, to=2, request=request))
        if plan is None:
            return
        done = self._call(result, "rewind", lambda: apply_rewind(plan))
        if done is not None:
            self._check_loadable(result, "rewind", done.checkpoint)
        elif result.outcomes.get("rewind") == "refused" and set(run.rglob("*")) != files:
            result.findings.append(Finding("left behind", "rewind",
                                           str(sorted(set(run.rglob("*")) - files))))

    def _check_loadable(self, result: Result, op: str, out: Path) -> None:
        try:
            torch_tree(out)
        except Exception as exc:  # noqa: BLE001 - torch's refusal is the finding
            result.findings.append(Finding("bad output", op, f"{type(exc).__name__}: "
                                                            f"{str(exc)[:200]}"))


def signature(finding: Finding) -> str:
    """What a finding is, without line numbers: stable while the code around it changes."""
    if finding.site:
        where, _, function = finding.site.partition(" in ")
        return f"{finding.problem} at {where.split(':')[0]} in {function}"
    return f"{finding.problem} by {finding.op}"


def count_table(results: list[Result], pending: Iterable[str] = ()) -> str:
    """Inputs by kind; each call's outcome (ok or written / refused); inputs with a finding,
    and how many of those only have findings listed as pending."""
    pending = set(pending)
    rows: dict[str, collections.Counter] = {}
    for r in results:
        row = rows.setdefault(r.case.kind, collections.Counter())
        row["inputs"] += 1
        for op, outcome in r.outcomes.items():
            row[f"{op} {outcome}"] += 1
        if r.findings:
            row["failed"] += 1
            row["pending"] += all(signature(f) in pending for f in r.findings)
    names = {"inspect": "inspect ok/refused", "edit": "edit written/refused",
             "diff": "diff ok/refused", "rewind": "rewind ok/refused"}
    header = (f"{'kind':<17}{'inputs':>7}" + "".join(f"{n:>23}" for n in names.values())
              + f"{'failed (pending)':>19}")
    total: collections.Counter = sum(rows.values(), collections.Counter())
    lines = [header, "-" * len(header)]
    for kind, row in [*rows.items(), ("all", total)]:
        cells = [f"{row[op + ' ok']}/{row[op + ' refused']}" for op in names]
        failed = f"{row['failed']} ({row['pending']})"
        lines.append(f"{kind:<17}{row['inputs']:>7}" + "".join(f"{c:>23}" for c in cells)
                     + f"{failed:>19}")
    lines.insert(-1, "-" * len(header))
    return "\n".join(lines)


def findings_table(results: list[Result]) -> str:
    """Each kind of finding (its signature), how many inputs had it, and one example."""
    seen: dict[str, list] = {}
    for r in results:
        for f in r.findings:
            entry = seen.setdefault(signature(f), [0, r, f])
            entry[0] += 1
    return "\n".join(f"{n:>5}  {sig}\n       e.g. [{r.case.kind}] {r.case.label} | {f.op}: "
                     f"{f.detail[:160]}" for sig, (n, r, f) in
                     sorted(seen.items(), key=lambda item: -item[1][0]))


def findings_text(results: list[Result]) -> str:
    out = []
    for r in results:
        for f in r.findings:
            out.append(f"[{r.case.kind}] {r.case.label} | {f.op}: {f.problem}: {f.detail}"
                       + (f" @ {f.site}" if f.site else ""))
    return "\n".join(out)
