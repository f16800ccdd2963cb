"""One module per CLI verb. Each defines ``HELP``, ``add_arguments(parser)`` and ``run(args, console) -> int``."""
