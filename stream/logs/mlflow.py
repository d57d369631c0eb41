"""MLflow file stores (`mlruns/<experiment>/<run>/`), read without the mlflow package.

A run folder holds `meta.yaml` (`run_id`, `run_name`, `status`: 1 running, 3 finished, 4
failed, 5 killed; `end_time`), `metrics/<key>` (one line per logged value: `timestamp_ms value
step`; a key with `/` is a nested path) and `params/<key>` (the value as text). Metric files
are appended as the run logs, and are followed from the last offset; their scalars become
records as stream/logs/scalars.py says, params the synthetic run_start's config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.scalars import ScalarLog
from runwatch.stream.reader import CHUNK_BYTES, MAX_LINE_BYTES, FollowState, stat_log

KIND = "MLflow run"
STATUSES = {"1": "running", "2": "scheduled", "3": "finished", "4": "failed", "5": "killed"}
_META_LINE = re.compile(r"^(\w+): ?(.*)$")
EPOCH_PARAMS = ("epochs", "num_train_epochs", "max_epochs", "n_epochs", "num_epochs")
MAX_PARAMS = 1000


def read_meta(path: Path) -> dict[str, str]:
    """The top-level `key: value` lines of a meta.yaml (all this reader needs of YAML)."""
    text = path.read_bytes()[:MAX_LINE_BYTES].decode("utf-8", "replace")
    return {m.group(1): m.group(2).strip().strip("'\"")
            for line in text.splitlines() if (m := _META_LINE.match(line))}


def mlflow_run_name(run: Path) -> str | None:
    """The run_name an MLflow run folder's meta.yaml gives it, if it is one."""
    try:
        return read_meta(run / "meta.yaml").get("run_name") or None
    except OSError:
        return None


def run_status(run: Path) -> str | None:
    """running / finished / failed / killed, from the run's meta.yaml."""
    try:
        return STATUSES.get(read_meta(run / "meta.yaml").get("status", ""))
    except OSError:
        return None


@dataclass
class _MetricFile:
    inode: int
    offset: int = 0


class MlflowLog(ScalarLog):
    kind_name = KIND

    def __init__(self, path: Path, options: ReadOptions, state: FollowState) -> None:
        super().__init__(path, options, state)
        self.run = path.parent
        self.files: dict[Path, _MetricFile] = {}

    def feed(self) -> bool:
        metrics = self.run / "metrics"
        done = True
        for path in sorted(p for p in metrics.rglob("*") if p.is_file()):
            st = stat_log(path, self.state)
            if st is None:
                continue
            known = self.files.get(path)
            if known is None or known.inode != st.st_ino or st.st_size < known.offset:
                known = self.files[path] = _MetricFile(st.st_ino)
            if known.offset >= st.st_size:
                continue
            with open(path, "rb") as f:
                f.seek(known.offset)
                data = f.read(min(CHUNK_BYTES, st.st_size - known.offset))
            cut = data.rfind(b"\n") + 1
            known.offset += cut
            self._lines(path.relative_to(metrics).as_posix(), data[:cut])
            done = done and known.offset >= st.st_size
        self.state.missing = False
        return done

    def _lines(self, tag: str, data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            cells = line.split()
            try:
                wall, value = float(cells[0]) / 1000, float(cells[1])
                step = int(cells[2]) if len(cells) > 2 else 0
            except (ValueError, IndexError):
                self.bad += 1
                self.state.last_bad, self.state.last_reason = line[:80], f"not a {tag} value"
                continue
            self.series.add(tag, step, value, wall)

    def info(self) -> dict:
        params = {}
        for path in sorted((self.run / "params").rglob("*"))[:MAX_PARAMS]:
            if path.is_file():
                params[path.relative_to(self.run / "params").as_posix()] = (
                    path.read_bytes()[:4096].decode("utf-8", "replace"))
        epochs = next((params[k] for k in EPOCH_PARAMS if k in params), None)
        try:
            planned = int(float(epochs)) if epochs is not None else None
        except ValueError:
            planned = None
        meta = read_meta(self.path)
        return {"config": params, "epochs": planned if planned and planned > 0 else None,
                "run_id": meta.get("run_name") or meta.get("run_id") or self.run.name}


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    keys = {line.split(":", 1)[0] for line in head.text}
    return {"run_id", "experiment_id", "lifecycle_stage"} <= keys


def open_log(path: Path, options: ReadOptions, state: FollowState) -> MlflowLog:
    return MlflowLog(path, options, state)


FORMAT = LogFormat("mlflow", KIND, "an MLflow run folder (mlruns/EXPERIMENT/RUN)",
                   ("meta.yaml",), sniff, open_log, unit=lambda path: path.parent)
