"""The event classes an aggregate names for type checkers (so projectors can write
`@handles(Run.EscalationApproved)`) are exactly those its `@event` decorators make."""

from __future__ import annotations

import ast
import inspect

import pytest
from eventsourcing.domain import Aggregate

from domain.identity.credential import SecurityEvent
from domain.identity.user import User
from domain.runs.run import Run

pytestmark = pytest.mark.unit


def _declared_and_made(aggregate: type[Aggregate]) -> tuple[set[str], set[str]]:
    (node,) = ast.parse(inspect.getsource(aggregate)).body
    assert isinstance(node, ast.ClassDef)
    declared: set[str] = set()
    made: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING":
            declared |= {
                s.target.id
                for s in statement.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            }
        if isinstance(statement, ast.FunctionDef):
            for decorator in statement.decorator_list:
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "event":
                    (name,) = decorator.args
                    assert isinstance(name, ast.Constant)
                    made.add(str(name.value))
    return declared, made


@pytest.mark.parametrize("aggregate", [Run, User, SecurityEvent])
def test_the_declared_event_classes_are_those_the_aggregate_makes(
    aggregate: type[Aggregate],
) -> None:
    declared, made = _declared_and_made(aggregate)
    assert made and declared == made
    for name in declared:
        made_class = getattr(aggregate, name)
        assert issubclass(made_class, aggregate.Event)
        assert made_class.__qualname__ == f"{aggregate.__name__}.{name}"
