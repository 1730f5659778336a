"""The CLI's commands, one module per command or command group, named like the verb.

Each module has `register(subcommands)`, which adds its parsers; each leaf command declares a frozen
dataclass request (its arguments, typed) and a function taking that request and returning the exit code,
and `arguments.add_command` joins the two at the edge. What the modules share has a named home:
`arguments` (adding commands, the shared options, argparse types), `checkout` (--root and the git
checkout) and `environment` (the clock and environment variables); the registry is opened with
`pipelines.images.registry.connect`. Modules import heavy libraries (HTTP, Pulumi, TOML writers, git)
inside their handlers only, so that `tag parse` starts fast.
"""
