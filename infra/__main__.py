"""The Pulumi program's entry point; run by a person (`python -m infra render …`) it is the offline review instead.

Pulumi runs this file with its engine attached (a resource monitor): then it reads
and validates the stack config and wires the components. Nothing here decides a
setting; each component module owns its concern.
"""

import sys

from pulumi.runtime.settings import get_monitor

if get_monitor() is None:
    from infra.cli import main

    sys.exit(main())

import pulumi

from infra.config import read_stack_config
from infra.production import declare_production
from infra.staging import declare_staging, is_staging, parse_staging_settings
from pipelines.core.errors import PipelineError

stack_values, secret_keys = read_stack_config()
if is_staging(stack_values):
    try:
        declare_staging(parse_staging_settings(stack_values, secret_keys))
    except PipelineError as error:
        raise pulumi.RunError(str(error)) from error
else:
    declare_production(stack_values, secret_keys)
