"""One module per `arrears` subcommand; each offers `register(subparsers)`."""
