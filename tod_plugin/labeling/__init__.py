"""Labeling projects: a folder of unlabeled images, labeled round by round (``tod-al init / query /
teach / status / predict / export``), on the plugin's estimator and strategies."""
from .commands import export, init, predict, query, status, teach
from .project import Project, ProjectBusy, project_lock
from .settings import ProjectSettings
from .status import format_status
from .teach import LabelsRejected

__all__ = ["LabelsRejected", "Project", "ProjectBusy", "ProjectSettings", "export", "format_status", "init",
           "predict", "project_lock", "query", "status", "teach"]
