"""PLATEAU (and GSI) downloads → a City folder: per-file tasks, the merge, dataset imports."""
