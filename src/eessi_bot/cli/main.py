"""`eessi-bot` command line: the only place that exits."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from eessi_bot import __version__
from eessi_bot.cli import admin, cleanup, gc_cmd, jobs_cmd
from eessi_bot.cli.errors import EXIT_STATUS, INTERNAL, INTERRUPTED, USAGE, CliError
from eessi_bot.cli.runtime import AlreadyRunning
from eessi_bot.cli.try_cmd import EXIT_STATUS as TRY_EXIT_STATUS
from eessi_bot.core.config import ConfigError
from eessi_bot.core.config.problems import errors
from eessi_bot.core.jobs import JobState
from eessi_bot.core.webhook import DeliveryError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eessi-bot", description="Build-and-deploy bot for software stacks "
                                     "such as EESSI (a GitHub App).", epilog=EXIT_STATUS,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"eessi-bot {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = add(name, help_text)
        cmd.add_argument("--config", "-c", type=Path, default=Path("app.cfg"), help="path of app.cfg")
        return cmd

    for name, help_text in (("serve", "receive webhooks, act on them and follow the jobs (one process)"),
                            ("event-handler", "receive webhooks and act on them (run job-manager beside it)")):
        cmd = with_config(name, help_text)
        cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        cmd.add_argument("--port", type=_port, default=3000, help="port to listen on (default 3000)")
    with_config("job-manager", "follow the submitted jobs and report them (run event-handler beside it)")
    with_config("check-config", "validate app.cfg and summarise what this instance will do")
    adopt = with_config("adopt", "take over the jobs an EESSI bot left in job_ids_dir (serve and job-manager "
                        "do it at every start)")
    adopt.add_argument("--dry-run", action="store_true", help="only list what would be adopted")
    _admin_commands(with_config)
    replay = with_config("replay", "feed a stored webhook delivery through the bot (for debugging)")
    replay.add_argument("delivery", type=Path, help="JSON file: {headers, payload} or a bare payload")
    replay.add_argument("--event", help="event type when the file has no headers (e.g. issue_comment)")
    replay.add_argument("--url", help="POST the signed delivery to a running bot at this URL instead")
    replay.add_argument("--dry-run", action="store_true", help="print GitHub writes instead of sending them")
    demo = add("demo", "run the bot's pipeline on embedded defaults, without GitHub")
    demo.add_argument("--keep", action="store_true", help="keep the demo's directory (job dirs, database) and "
                      "print where it is")
    trial = add("try", "dry-run a command on a branch of a local checkout with this site's configuration; "
                "comments are printed, not posted")
    trial.add_argument("--repo", type=Path, required=True, help="a local git checkout of the target repository")
    trial.add_argument("--branch", required=True, help="the branch that plays the PR")
    trial.add_argument("--base", default="main", help="the PR's base branch (default main)")
    trial.add_argument("--config", "-c", type=Path, help="app.cfg (default: the demo's embedded configuration)")
    trial.add_argument("--timeout", type=float, default=3600.0, help="seconds to follow the jobs (default 3600); "
                       "jobs still running then go on")
    trial.add_argument("--as", dest="as_login", metavar="LOGIN",
                       help="the GitHub login that writes the comment (default: the first login of build_permission "
                       "that may send commands; the first output line says which)")
    trial.add_argument("comment", metavar="COMMAND", help='the comment, e.g. "bot: build for:arch=x86_64/amd/zen2"')
    trial.epilog = TRY_EXIT_STATUS
    trial.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _port(value: str) -> int:
    """A TCP port number (0: any free port, which the log then names)."""
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0 to 65535)")
    return int(value)


def _admin_commands(with_config: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """`jobs`, `cleanup` and `gc`: work on the database and the job tree, also while the bot runs (`jobs`,
    `cleanup` and `gc --dry-run` only read the database)."""
    listing = with_config("jobs", "list this instance's jobs from its database (also while the bot runs)")
    listing.usage = "eessi-bot jobs [--pr N] [--repo OWNER/REPO] [--state STATE[,STATE...]] [--json] [-c app.cfg]"
    listing.add_argument("--pr", type=admin.pr_number, metavar="N", help="only the jobs of PR N")
    listing.add_argument("--state", type=admin.job_states, action="extend", metavar="STATE[,STATE...]",
                         help=f"only jobs in these states ({', '.join(s.value for s in JobState)}); repeatable")
    clean = with_config("cleanup", "remove a PR's tmp-storage tarballs and build artefacts (as "
                        "scripts/cleanup_pr.sh did), showing disk usage before and after")
    clean.description = ("remove the tmp-storage tarballs and build artefacts in a PR's job directories and in the\n"
                         "trash (as scripts/cleanup_pr.sh did), showing disk usage before and after; directories,\n"
                         "logs and result files stay. Refused while a job of the PR has not finished.")
    clean.usage = "eessi-bot cleanup --pr N [--repo OWNER/REPO] [--dry-run] [--json] [-c app.cfg]"
    clean.add_argument("--pr", type=admin.pr_number, required=True, metavar="N", help="the PR number")
    clean.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    for cmd, repo_help, exit_status in (
            (listing, "only the jobs of this repository", jobs_cmd.EXIT_STATUS),
            (clean, "the PR's repository (needed when the number is in several)", cleanup.EXIT_STATUS)):
        cmd.add_argument("--repo", type=admin.repo_name, metavar="OWNER/REPO", help=repo_help)
        cmd.add_argument("--json", action="store_true", help="print JSON for scripts")
        cmd.epilog = exit_status
        cmd.formatter_class = argparse.RawDescriptionHelpFormatter
    collect = with_config("gc", "apply the [clean_up] keep_*_days retention now (the bot does it daily)")
    collect.description = ("forget handled deliveries and finished jobs older than keep_deliveries_days and\n"
                           "keep_jobs_days, and remove trash directories older than keep_trash_days (0: keep\n"
                           "forever), as the bot does daily; prints what goes and the space freed. Safe while the\n"
                           "bot runs.")
    collect.usage = "eessi-bot gc [--dry-run] [--json] [-c app.cfg]"
    collect.add_argument("--dry-run", action="store_true", help="only show what would go; change nothing")
    collect.add_argument("--json", action="store_true", help="print JSON for scripts")
    collect.epilog = gc_cmd.EXIT_STATUS
    collect.formatter_class = argparse.RawDescriptionHelpFormatter


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        sys.stderr.write("eessi-bot: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`eessi-bot jobs | head`): no traceback now, none when stdout is flushed at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the one place that turns any error into an exit status
        if args.debug:
            traceback.print_exc()
        status, message = _explain(exc)
        sys.stderr.write(f"eessi-bot {args.command}: {message}\n")
        return status


def _explain(exc: Exception) -> Tuple[int, str]:
    """(exit status, plain message) for an error that ended a command."""
    if isinstance(exc, CliError):
        return exc.status, str(exc)
    if isinstance(exc, ConfigError):
        shown = "\n".join(p.render() for p in errors(exc.problems))
        return USAGE, f"{shown}\nthe configuration has errors; run 'eessi-bot check-config' for details"
    if isinstance(exc, (AlreadyRunning, DeliveryError)):
        return USAGE, str(exc)
    return INTERNAL, (f"internal error: {type(exc).__name__}: {exc}\n"
                      "this is a bug: run the command again with --debug and report the traceback")


def _run(args: argparse.Namespace) -> int:
    if args.command in ("serve", "event-handler"):
        from eessi_bot.cli import serve

        return serve.run(args.config, args.host, args.port, args.command)
    if args.command == "job-manager":
        from eessi_bot.cli import serve

        return serve.run_job_manager(args.config)
    if args.command == "check-config":
        from eessi_bot.cli import check_config

        return check_config.run(args.config, sys.stdout)
    if args.command == "adopt":
        from eessi_bot.cli import adopt_cmd

        return adopt_cmd.run(args.config, args.dry_run, sys.stdout)
    if args.command == "jobs":
        return jobs_cmd.run(args.config, args.repo, args.pr, args.state, args.json, sys.stdout)
    if args.command == "cleanup":
        return cleanup.run(args.config, args.pr, args.repo, args.dry_run, args.json, sys.stdout, sys.stderr)
    if args.command == "gc":
        return gc_cmd.run(args.config, args.dry_run, args.json, sys.stdout, sys.stderr)
    if args.command == "replay":
        from eessi_bot.cli import replay

        return replay.run(args.config, args.delivery, args.event, args.url, args.dry_run, sys.stdout)
    if args.command == "try":
        from eessi_bot.cli import try_cmd

        return try_cmd.run(args.repo, args.branch, args.base, args.config, args.comment, args.timeout,
                           sys.stdout, args.as_login)
    from eessi_bot.cli import demo

    return demo.run(sys.stdout, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
