"""``microgesture`` — one command, a subcommand per stage.

Errors the user can fix end in one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import click
import typer

from .. import __version__
from ..errors import MicrogestureError
from . import analyze as analyze_cli
from . import batch as batch_cli
from . import data as data_cli
from . import demo as demo_cli
from . import emotion as emotion_cli
from . import evaluate as evaluate_cli
from . import experiment as experiment_cli
from . import train as train_cli
from .common import err_console, setup_logging

app = typer.Typer(
    name="microgesture",
    help="Identity-free emotional AI through micro-gestures: skeleton data, recognition, emotion reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_STATE = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on error."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _STATE["debug"] = debug
    setup_logging(verbose)


def _register() -> None:
    """Attach each stage's commands. Each module owns its own sub-app or commands."""

    app.add_typer(data_cli.app, name="data")
    app.add_typer(emotion_cli.app, name="emotion")
    demo_cli.register(app)
    analyze_cli.register(app)
    batch_cli.register(app)
    evaluate_cli.register(app)
    experiment_cli.register(app)
    train_cli.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        code = app(args=argv, standalone_mode=False)  # without standalone mode click returns typer.Exit's code
        if isinstance(code, int) and code:
            return code
    except SystemExit as e:  # typer.Exit / --help
        return int(e.code or 0)
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        err_console.print("error: aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("error: interrupted")
        return 130
    except MicrogestureError as e:
        if debug:
            raise
        err_console.print(f"error: {e}", markup=False, highlight=False)
        return 1
    except Exception as e:  # noqa: BLE001 - the CLI promises one line, not a traceback

        if isinstance(e, click.ClickException):
            e.show()
            return e.exit_code
        if debug:
            raise
        err_console.print(f"error: {type(e).__name__}: {e} (run with --debug for the traceback)",
                          markup=False, highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
