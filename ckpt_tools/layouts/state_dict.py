"""Weights only (a bare state_dict, or a dict holding one): nothing to edit."""

from __future__ import annotations

from runwatch.ckpt_tools.layouts.base import CheckpointView, Layout, whole
from runwatch.ckpt_tools.tree import is_tensor


class StateDict(Layout):
    name = "state_dict"
    schedule_source = "nothing stored: the file holds no optimizer or scheduler state"

    def detect(self, loaded) -> bool:
        return True

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        view = CheckpointView(self, loaded)
        if isinstance(obj, dict):
            inner = obj.get("state_dict", obj.get("model", obj))
            tensors = isinstance(inner, dict) and inner and all(
                is_tensor(v) for v in inner.values())
            view.model = inner if tensors else obj
            if whole(obj.get("epoch")) is not None:
                view.found.append(f"epoch = {obj['epoch']} (weights only: nothing to resume)")
        return view
