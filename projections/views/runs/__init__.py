"""The runs view: one row per run; its escalated rows are the approvals inbox."""

from projections.views.runs.projector import Runs

PROJECTORS = (Runs,)
