"""The people's `cairn` commands: login, logout, intent, runs, run, approvals, approve, deny,
policies get|put|evaluate, audit events. Registered beside the operator commands."""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Annotated, Any

import typer

from clients.people import config
from clients.people.output import describe_run, emit_json, err, out, runs_table
from clients.people.session import final_state, signed_in_client
from clients.sdk import ApiError, Cairn, CairnError, PushEvent, Run
from clients.sdk.device import DeviceLoginFailed, device_login
from clients.sdk.models import DeviceAuthorization

VERIFICATION_PATH = "/device"
Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
Api = Annotated[
    str | None, typer.Option("--api", envvar="CAIRN_API_URL", help="Cairn's API base URL.")
]


def answer(value: Any, as_json: bool, human: Callable[[], None]) -> None:
    """`value` as JSON on stdout for scripts, else what `human` prints."""
    if as_json:
        emit_json(value)
    else:
        human()


def spinner(text: str, quiet: bool) -> AbstractContextManager[Any]:
    return nullcontext() if quiet else err.status(text)


NEEDS_CONSOLE_EXIT = 3
# Changes a terminal cannot make: they need a passkey, which only a browser (the console) or
# a platform authenticator can use.
NEEDS_CONSOLE = {
    "step_up_required": "this change needs your passkey, which the command line cannot use",
    "insufficient_scope": "this device's sign-in may not change what runs without you "
    "(`cairn login --scope autonomy:write` asks for it)",
}


@contextmanager
def reported(screen: str = "/#/") -> Iterator[None]:
    """Errors as one line with the API's code, exit status 1. A change that needs a passkey
    names the console's `screen` where the person can make it, exit status 3."""
    try:
        yield
    except ApiError as exc:
        if exc.code in NEEDS_CONSOLE:
            err.print(f"[bold red]not changed:[/] {NEEDS_CONSOLE[exc.code]} ({exc.code}).")
            err.print(f"Make it in the console: {config.console_url(screen)}")
            raise typer.Exit(NEEDS_CONSOLE_EXIT) from exc
        err.print(f"[bold red]error:[/] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc
    except CairnError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def login(
    api: Api = None,
    device_name: Annotated[str, typer.Option(help="How this device is listed.")] = "cairn CLI",
    scope: Annotated[
        str,
        typer.Option(help="Scopes beyond the default, space-separated (e.g. autonomy:write)."),
    ] = "",
    as_json: Json = False,
) -> None:
    """Sign in with the device authorization grant: approve the code shown in the console
    with your passkey. The session is kept in your config folder (0600)."""
    base = api or config.DEFAULT_API

    shown_uri: list[str] = []

    def show(code: DeviceAuthorization) -> None:
        shown_uri.append(code.verification_uri)
        if as_json:
            emit_json(code.model_dump(exclude={"device_code"}))
            return
        out.print(f"Open [bold]{code.verification_uri}[/] and enter the code")
        out.print(f"\n    [bold]{code.user_code}[/]\n")
        out.print(f"(or open {code.verification_uri_complete}); it expires in {code.expires_in} s")

    with reported(), Cairn(base) as cairn:
        try:
            with spinner("waiting for your approval…", as_json):
                session = device_login(
                    cairn, show, client_name="cairn CLI", device_name=device_name, scope=scope
                )
        except DeviceLoginFailed as exc:
            words = {"access_denied": "the sign-in was denied", "expired_token": "the code expired"}
            err.print(f"[bold red]not signed in:[/] {words.get(exc.code, exc.message)}")
            raise typer.Exit(1) from exc
        assert cairn.credentials is not None
        console = shown_uri[0].removesuffix(VERIFICATION_PATH) if shown_uri else None
        path = config.save(base, cairn.credentials, console)
    signed = {"signed_in": True, "user_id": session.user_id, "device_id": session.device_id}
    if as_json:
        emit_json(signed)
    else:
        out.print(
            f"signed in as user {session.user_id} (device {session.device_id}); kept in {path}"
        )


def logout() -> None:
    """End this device's session and forget its tokens."""
    # Forgotten even if the session had already ended (revoked from another device).
    with suppress(CairnError), signed_in_client() as cairn:
        cairn.log_out()
    config.forget()
    out.print("signed out")


def intent(
    text: Annotated[str, typer.Argument(help="What you want done, in your words.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the run live until it ends.")
    ] = False,
    as_json: Json = False,
) -> None:
    """State an intent; with --wait, follow its timeline live (plan, decision, steps)."""
    with reported(), signed_in_client() as cairn:
        accepted = cairn.submit_intent(text)
        if not wait:
            answer(accepted, as_json, lambda: out.print(f"run {accepted.run_id} accepted"))
            return
        run = _follow(cairn, accepted.run_id, accepted.position, quiet=as_json)
        if as_json:
            emit_json(run)
        else:
            describe_run(run.model_dump(mode="json"))
            if run.status == "escalated":
                out.print(f"waiting for your approval: cairn approve {run.run_id}")


def _follow(cairn: Cairn, run_id: str, after: int | None, *, quiet: bool) -> Run:
    """The run's events as they are stored, one line each, until it ends or waits for the
    person; then the run as the view has it at that event."""
    with spinner(f"run {run_id}: submitted", quiet) as status:
        for item in cairn.subscribe(run_id=run_id, last_event_id=after):
            if not isinstance(item, PushEvent):
                continue
            name = item.event.rsplit(".", 1)[-1]
            if not quiet:
                err.print(f"  {item.recorded_at[11:19]}  {name}")
                status.update(f"run {run_id}: {name}")
            if final_state(item):
                return cairn.run(run_id, after=item.position)
    raise AssertionError("unreachable: a subscription ends only by raising")


def runs(
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Json = False,
) -> None:
    """Your runs, newest first."""
    with reported(), signed_in_client() as cairn:
        page = cairn.runs(status=status, limit=limit)
    answer(page, as_json, lambda: out.print(runs_table(page.items, "runs")))


def run(run_id: str, as_json: Json = False) -> None:
    """One run: plan, decision, steps and timeline."""
    with reported(), signed_in_client() as cairn:
        found = cairn.run(run_id)
    answer(found, as_json, lambda: describe_run(found.model_dump(mode="json")))


def approvals(as_json: Json = False) -> None:
    """Runs waiting for your approval."""
    with reported(), signed_in_client() as cairn:
        page = cairn.approvals()
    answer(page, as_json, lambda: out.print(runs_table(page.items, "waiting for you")))


def approve(
    run_id: str,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL.")] = False,
) -> None:
    """Approving needs your passkey: opens the console at the run's plan."""
    url = config.console_url(f"/#/approvals?run={run_id}")
    out.print(f"approve the plan with your passkey at {url}")
    if not no_browser:
        webbrowser.open(url)


def deny(
    run_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the run).")] = "denied by the person",
    as_json: Json = False,
) -> None:
    """Deny an escalated run: its plan never executes."""
    with reported(), signed_in_client() as cairn:
        denied = cairn.deny(run_id, reason)
    answer(denied, as_json, lambda: out.print(f"run {run_id} denied"))


policies_app = typer.Typer(help="Your Cedar policies.", no_args_is_help=True)


@policies_app.command("get")
def policies_get(as_json: Json = False) -> None:
    """Print your policies (the household defaults until you change them)."""
    with reported(), signed_in_client() as cairn:
        found = cairn.policies()
    answer(found, as_json, lambda: print(found.text))


@policies_app.command("put")
def policies_put(
    file: Annotated[Path, typer.Argument(help="Cedar text; - for stdin.", allow_dash=True)],
    as_json: Json = False,
) -> None:
    """Replace your policies with the file's Cedar text (validated first)."""
    text = typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
    with reported("/#/policies"), signed_in_client() as cairn:
        changed = cairn.put_policies(text)
    answer(changed, as_json, lambda: out.print(f"policies now {changed.policy_version}"))


@policies_app.command("evaluate")
def policies_evaluate(
    plan_file: Annotated[Path, typer.Argument(help="A plan as JSON.")],
    as_json: Json = False,
) -> None:
    """Dry run: what would be decided for this plan now, and which policies decided it."""
    plan = json.loads(plan_file.read_text())
    with reported(), signed_in_client() as cairn:
        decision = cairn.evaluate_policies(plan)
    if as_json:
        emit_json(decision)
    else:
        data = decision.model_dump(mode="json")
        out.print(f"{decision.outcome} (policies: {data.get('policies')})")


def audit_events(
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's events.")] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="NDJSON file (default stdout).")
    ] = None,
) -> None:
    """Your household's events from the store, in order, as NDJSON (needs audit.read)."""
    with reported(), signed_in_client() as cairn:
        events = cairn.audit_export(correlation_id=run_id) if run_id else cairn.audit_export()
        lines = (json.dumps(event, separators=(",", ":")) for event in events)
        if output is None:
            for line in lines:
                print(line)
        else:
            with output.open("w", encoding="utf-8", newline="\n") as handle:
                count = sum(1 for line in lines if handle.write(line + "\n"))
            err.print(f"wrote {count} event(s) to {output}")


def register(app: typer.Typer, audit_app: typer.Typer) -> None:
    """Add the people's commands to the `cairn` app (beside the operator commands)."""
    for command in (login, logout, intent, runs, run, approvals, approve, deny):
        app.command(rich_help_panel="For people")(command)
    app.add_typer(policies_app, name="policies", rich_help_panel="For people")
    audit_app.command("events")(audit_events)
