"""The `domainlm stack` commands (plugged into the domainlm CLI when the chassis is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

stack_app = typer.Typer(
    help="The services topology (Kafka, Redis, Postgres, vLLM teacher, every stage) as local processes.",
    no_args_is_help=True,
)
DirOption = Annotated[Path, typer.Option("--dir", help="where the stack keeps its data, logs and state.json")]


@stack_app.command("up")
def stack_up(
    dir: DirOption = Path(".stack"),
    teacher_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible teacher; default: a tiny local model on vLLM")
    ] = None,
    teacher_model: Annotated[str, typer.Option(help="the teacher's served model name")] = "domainlm-teacher",
    replicas: Annotated[
        list[str] | None, typer.Option("--replicas", help="SERVICE=N, e.g. generator=2 (repeatable)")
    ] = None,
    partitions: Annotated[
        int, typer.Option(help="partitions per topic: the most replicas a stage can use")
    ] = 4,
) -> None:
    """Start the whole topology in the background; returns once every service reports SERVING."""
    from domainlm_chassis.stack import SERVICES, StackError, up

    counts: dict[str, int] = {}
    for item in replicas or []:
        name, _, n = item.partition("=")
        if name not in SERVICES or not n.isdigit() or int(n) < 1:
            raise typer.BadParameter(f"{item!r}: want SERVICE=N with SERVICE one of {', '.join(SERVICES)}")
        counts[name] = int(n)
    try:
        up(dir, teacher_url, teacher_model, counts, partitions, say=lambda m: typer.echo(m, err=True))
    except StackError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e


@stack_app.command("status")
def stack_status(dir: DirOption = Path(".stack")) -> None:
    """Each process of the stack: serving, running, not-serving or down."""
    from domainlm_chassis.stack import read_state, status

    state = read_state(dir)
    if state is None:
        typer.echo(f"no stack in {dir}", err=True)
        raise typer.Exit(1)
    for name, what in status(dir).items():
        typer.echo(f"{name:<14} {what:<12} {state['processes'][name]['log']}")
    typer.echo(f"Kafka at {state.get('bootstrap')}", err=True)


@stack_app.command("down")
def stack_down(dir: DirOption = Path(".stack")) -> None:
    """Stop every process of the stack (services first); data stays in the directory."""
    from domainlm_chassis.stack import down

    down(dir, say=lambda m: typer.echo(m, err=True))
