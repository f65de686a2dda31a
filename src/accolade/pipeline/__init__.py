"""The event pipeline, one stage a module: `intake` (group commit, retries: the driver),
`apply` (metric totals and time buckets of a transaction's users, in memory then written once),
`progression` (XP, level, tier, streak), `reactions` (what some event types do besides, e.g.
quizzes and solved problems, registered in `app.py`), `evaluate` (rules, unlocks, progress bars)
and the metric listeners (`commands.MetricListener`: leaderboards, contests). `replay` re-applies
stored history in memory (recompute and what-if)."""
