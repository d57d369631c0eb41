"""Schedules every schedule test runs over: each name, with and without warmup and restarts."""

from runwatch.schedule import ScheduleSpec

SPECS = [
    ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5),
    ScheduleSpec("cosine_restarts", 0.1, 70, t0=10, t_mult=2, eta_min=0.0),
    ScheduleSpec("cosine_restarts", 0.1, 40, t0=8, warmup_epochs=3, warmup_start_factor=0.01),
    ScheduleSpec("cosine", 0.1, 90, warmup_epochs=5, eta_min=1e-6),
    ScheduleSpec("cosine", 0.2, 30),
    ScheduleSpec("step", 0.1, 200, milestones=(60, 120, 160), gamma=0.2),
    ScheduleSpec("step", 0.1, 50, milestones=(20, 40), warmup_epochs=4),
    ScheduleSpec("constant", 0.01, 12, warmup_epochs=2),
]
