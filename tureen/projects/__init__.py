"""Projects: run MLflow's MLproject format (entry points, typed parameters, environments, backends).

Example:
    >>> import tureen.projects
    >>> submitted = tureen.projects.run("examples/projects/wine", parameters={"alpha": 0.3})  # doctest: +SKIP
    >>> submitted.run_id, submitted.get_status()  # doctest: +SKIP
    ('5f0c...', 'FINISHED')
"""

from __future__ import annotations

from tureen.projects._run import BACKENDS, Plan, plan, run
from tureen.projects._spec import EntryPoint, Parameter, Project, load_project
from tureen.projects._submitted import SubmittedRun

__all__ = ["run", "plan", "Plan", "SubmittedRun", "load_project", "Project", "EntryPoint", "Parameter", "BACKENDS"]
