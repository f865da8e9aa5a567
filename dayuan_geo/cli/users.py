"""python -m dayuan_geo users add | list | remove | set-role: the local accounts from the shell."""

from __future__ import annotations

from pathlib import Path

from dayuan_geo import access, auth, settings


def _cmd_users(args) -> int:
    import sys

    if args.auth_file:
        path = Path(args.auth_file).resolve()
    elif getattr(args, "data_dir", None) and not settings.get(auth.AUTH_FILE_ENV):
        path = Path(args.data_dir).resolve().parent / "config" / "auth.toml"
    else:
        path = auth.auth_file()
    if args.users_command == "list":
        users = auth.load(path).users
        if not users:
            print(f"no accounts in {path}: the dashboard runs in local mode (this machine only)")
            return 0
        for acc in sorted(users.values(), key=lambda a: a.name):
            print(f"{acc.name:32} {acc.role:10} {acc.created}")
        return 0
    if args.users_command == "add":
        if not args.password_stdin:
            raise ValueError("give the password on standard input with --password-stdin "
                             "(never on the command line, where other users can read it)")
        if sys.stdin.isatty():  # typed by hand: no echo
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        acc = auth.add_user(args.name, args.role, password, path=path)
        print(f"added {acc.name} ({acc.role}) to {path}")
    elif args.users_command == "remove":
        auth.remove_user(args.name, path=path)
        print(f"removed {args.name} from {path}")
    elif args.users_command == "set-role":
        acc = auth.set_role(args.name, args.role, path=path)
        print(f"{acc.name} is now {acc.role}")
    return 0


def register(sub) -> None:
    """The `users` command of python -m dayuan_geo."""
    roles = sorted(access.ROLES)
    p = sub.add_parser("users", help="local accounts: add, list, remove, set-role")
    p.add_argument("--auth-file", help=f"accounts file (default: ${auth.AUTH_FILE_ENV} or config/auth.toml "
                                       "beside the data dir)")
    users = p.add_subparsers(dest="users_command", required=True)
    q = users.add_parser("add", help="add an account; the password is read from standard input")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=roles)
    q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users.add_parser("list", help="the accounts and their roles")
    q = users.add_parser("remove", help="remove an account")
    q.add_argument("name")
    q = users.add_parser("set-role", help="change an account's role")
    q.add_argument("name")
    q.add_argument("role", choices=roles)
    p.set_defaults(handler=_cmd_users)
