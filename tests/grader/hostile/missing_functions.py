"""set_analytics: churned and active_any_day are missing (deleted after an otherwise correct module)."""

del churned, active_any_day  # noqa: F821
