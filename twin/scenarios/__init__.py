"""Scenario jobs: what ``/api/scenarios`` and ``twin scenario`` mean (jobs, results, figures, reports)."""
