"""The context graph's views: memories, entities, bi-temporal facts (docs/context.md)."""

from projections.views.context.projector import Context

PROJECTORS = (Context,)
