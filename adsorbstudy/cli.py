"""Command line: ``adsorbstudy study --profile NAME [--only RUN ...] [--force]``.

Exit status: 0 on success; 2 for invalid input (arguments, profile, parameters), reported as one
line ``adsorbstudy: error: ...`` before any notebook runs; 1 when a notebook fails (the message
names the notebook and the cell, after the table of the time each run took).
"""
from __future__ import annotations

import argparse
import sys

from .profile import ProfileError, available_profiles, load_profile
from .study import StudyError, run_study, select_runs


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage first), like every other input error."""

    def error(self, message: str):
        self.exit(2, f"adsorbstudy: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="adsorbstudy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("study", help="execute a profile's notebooks with papermill into book/generated/")
    s.add_argument("--profile", default="default", help="a file params/NAME.yaml (smoke, default, paper)")
    s.add_argument("--only", action="append", metavar="RUN",
                   help="run only this run or notebook name (repeatable); its inputs must be cached")
    s.add_argument("--force", action="store_true",
                   help="re-execute every notebook, recompute every cached artifact and retrain every model "
                        "(checkpoints written before this batch are discarded)")
    c = sub.add_parser("check", help="validate a profile (every value and the checks between values and runs) and exit")
    c.add_argument("--profile", default="default")
    sub.add_parser("profiles", help="list the available profiles")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "profiles":
            print("\n".join(available_profiles()))
            return 0
        profile = load_profile(args.profile)
        if args.command == "check":
            print(f"profile {profile.name}: {len(profile.runs)} runs, valid")
            return 0
        select_runs(profile, args.only)
        run_study(args.profile, only=args.only, force=args.force)
        return 0
    except (ProfileError, ValueError) as exc:
        print(f"adsorbstudy: error: {exc}", file=sys.stderr)
        return 2
    except StudyError as exc:
        print(f"adsorbstudy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
