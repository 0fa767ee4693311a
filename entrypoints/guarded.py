"""How every server-side command ends: a known error is one red line and exit code 1, an
interrupt 130, anything else one line too unless CAIRN_DEBUG asks for the traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from rich.console import Console

from domain.errors import DomainError
from infra.stack.errors import StackError

err = Console(stderr=True)


def run_guarded(work: Callable[[], object]) -> None:
    try:
        work()
    except (StackError, DomainError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("CAIRN_DEBUG"):
            raise
        err.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {exc} "
            "(set CAIRN_DEBUG=1 for a traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
