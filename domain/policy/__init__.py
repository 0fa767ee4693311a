"""The pure policy model: what a decision depends on, how step answers combine, and the result.

Nothing here knows Cedar. An adapter answers "is this step permitted in this mode?" and the
functions here turn those answers into APPROVE / ESCALATE / DENY, deterministically.
"""
