"""Progress during a conversion of several inputs: every CityGML file is reported once as its task
ends, then every merge stage once, in order (what ``twin convert``'s bars by file and by stage show)."""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import pytest
from rich.progress import Progress

from twin.commands.convert import STAGES, file_progress, stage_progress
from twin.convert.pipeline import convert
from twin.convert.runners import dask_runner, run_inline


@pytest.mark.parametrize("runner", ["inline", "dask"])
def test_a_multi_file_convert_reports_each_file_and_each_stage(runner, gsi_sample, tmp_path):
    """Inline (``--workers 1``) and on a two-worker dask LocalCluster (the command's default on 2 cores),
    where files end in any order."""
    full, bare = gsi_sample
    expected = Counter(p.name for p in (bare / "udx").rglob("*.gml"))  # what the download holds
    assert sum(expected.values()) > 20 and len({p.parent.name for p in (bare / "udx").rglob("*.gml")}) >= 4
    events: list[tuple[str, str]] = []
    bar = Progress(disable=True)
    files, stages = bar.add_task("files", total=sum(expected.values())), bar.add_task("merge", total=len(STAGES))
    show_file, show_stage = file_progress(bar, files), stage_progress(bar, stages)

    def on_file(result) -> None:
        events.append(("file", Path(result.name).name))
        show_file(result)

    def on_stage(stage: str) -> None:
        events.append(("stage", stage))
        show_stage(stage)

    with (nullcontext(run_inline) if runner == "inline" else dask_runner(2)) as run:
        manifest = convert([bare, full / "gsi"], tmp_path / "town", runner=run, on_file=on_file, on_stage=on_stage)
    reported = [name for kind, name in events if kind == "file"]
    assert Counter(reported) == expected  # each file once, none missing
    assert manifest["counts"]["files"] == len(reported)
    assert [name for kind, name in events if kind == "stage"] == list(STAGES)
    assert events.index(("stage", STAGES[0])) == len(reported)  # the merge starts after the last file
    # The bars: every file counted, the last one named; the merge bar at its last stage.
    task = bar.tasks[files]
    assert task.completed == task.total and task.description == f"files: {reported[-1]}"
    assert bar.tasks[stages].description == f"merge: {STAGES[-1]}"
