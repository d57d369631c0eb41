"""docs/ckpt-tools.md's seed-run table is what the code computes (generated, never typed).

Regenerate it with `python tests/test_ckpt_tools_docs.py` and paste the output into the doc.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ckpt_builders import seed_scheduler, torchvision_checkpoint, torchvision_resume

from runwatch.ckpt_tools import EditRequest, plan_edit, write_edit
from runwatch.schedule import CONTINUITY_MODES, find_jumps

DOC = Path(__file__).resolve().parent.parent / "docs" / "ckpt-tools.md"
SHOWN_EPOCHS = (31, 32, 40, 50, 70, 100)


def seed_modes_table(checkpoint: Path) -> str:
    """Each continuity mode for `--t0 100 --epochs 100` at the seed run's epoch-30 checkpoint:
    the LRs torch really trains epochs 31-100 with, resumed from the written file."""
    head = ("| mode | epoch 30 (last) | " + " | ".join(f"epoch {e}" for e in SHOWN_EPOCHS)
            + " | jump at 31 | later restarts |")
    lines = [head, "|" + "---|" * (len(SHOWN_EPOCHS) + 4)]
    for mode in CONTINUITY_MODES:
        plan = plan_edit(checkpoint, EditRequest(t0=100, epochs=100, continuity=mode))
        out = write_edit(plan, checkpoint.with_name(f"{mode}.pth"))
        lrs, _ = torchvision_resume(out, seed_scheduler, 70)
        restarts = [j.epoch for j in find_jumps(lrs[1:], 32, min_ratio=3.0)]
        cells = [f"{lrs[e - 31]:.6f}" for e in SHOWN_EPOCHS]
        lines.append(f"| {mode} | {plan.last_lr:.6f} | " + " | ".join(cells)
                     + f" | {plan.jump_ratio:.2f}x | {', '.join(map(str, restarts)) or 'none'} |")
    return "\n".join(lines)


def _seed_checkpoint(folder: Path) -> Path:
    return torchvision_checkpoint(folder / "model_29.pth", 30)


def test_doc_table_matches_the_code(tmp_path):
    table = seed_modes_table(_seed_checkpoint(tmp_path))
    assert table in DOC.read_text(), "regenerate: python tests/test_ckpt_tools_docs.py"


if __name__ == "__main__":
    print(seed_modes_table(_seed_checkpoint(Path(tempfile.mkdtemp()))))
