"""Tasks as data: ``tasks/<name>.yaml`` -> a validated, hashable Task that owns its evaluation.

``spec`` (the Task and its hash), ``registry`` (YAML files -> TASKS), ``evaluate`` (metrics with CIs).
"""

from benchmark.tasks.registry import TASKS, load_task_file, task_from_dict, tasks_dir
from benchmark.tasks.spec import Task

__all__ = ["TASKS", "Task", "load_task_file", "task_from_dict", "tasks_dir"]
