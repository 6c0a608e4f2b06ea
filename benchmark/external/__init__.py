"""External test sets of a task: other datasets scored with the task's metrics through a label map."""
