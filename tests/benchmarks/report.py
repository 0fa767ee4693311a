"""Markdown reports for docs/benchmarks/: what ran, on what machine, and the ratios."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from tests.benchmarks.workloads import Measurement

REPORTS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def versions(*packages: str) -> str:
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def table(rows: Iterable[Measurement]) -> list[str]:
    lines = [
        "| workload | events | seconds | events/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in rows:
        p50 = f"{m.p50:.2f}" if m.latencies_ms else "-"
        p99 = f"{m.p99:.2f}" if m.latencies_ms else "-"
        lines.append(
            f"| {m.name} | {m.events:,} | {m.seconds:.2f} | {m.events_per_second:,.0f} "
            f"| {p50} | {p99} |"
        )
    return lines


def write(name: str, title: str, body: list[str], keep: tuple[str, ...] = ()) -> Path:
    """Write a report; the sections named in ``keep`` (written by ``write_section``, for
    workloads that can run on their own) stay as they were."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / name
    kept = _sections(path.read_text().splitlines(), keep) if path.exists() else []
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"# {title}", "", f"Measured {stamp} on {machine()}.", ""]
    path.write_text("\n".join([*header, *body, *kept, ""]))
    return path


def _section_bounds(lines: list[str], heading: str) -> tuple[int, int] | None:
    title = f"## {heading}"
    if title not in lines:
        return None
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def _sections(lines: list[str], headings: tuple[str, ...]) -> list[str]:
    kept: list[str] = []
    for heading in headings:
        bounds = _section_bounds(lines, heading)
        if bounds is not None:
            section = lines[bounds[0] : bounds[1]]
            while section and not section[-1].strip():
                section.pop()
            kept += ["", *section]
    return kept


def write_section(name: str, heading: str, body: list[str]) -> Path:
    """Replace (or add at the end) the section ``## heading`` of a report, leaving the rest as
    it is: a workload run on its own updates its part of the report."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / name
    lines = path.read_text().splitlines() if path.exists() else [f"# {name}", ""]
    bounds = _section_bounds(lines, heading)
    if bounds is not None:
        del lines[bounds[0] : bounds[1]]
    while lines and not lines[-1].strip():
        lines.pop()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [f"## {heading}", "", f"Measured {stamp} on {machine()}.", "", *body]
    path.write_text("\n".join([*lines, "", *section, ""]))
    return path
