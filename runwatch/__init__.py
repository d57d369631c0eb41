"""runwatch: watch a long training run, forecast it, and fix it when the schedule goes wrong.

This package holds what every part shares and imports no torch: `errors` (the one error users
cause), `atomic` (file writes), `schedule` (the LR maths), `stream` (the metric stream and
other trainers' logs) and the `runwatch` command (`cli`). The parts live beside them:
`runwatch.trainer`, `runwatch.forecast`, `runwatch.ckpt_tools`, `runwatch.tui`
(docs/architecture.md).
"""

__version__ = "0.2.0"
