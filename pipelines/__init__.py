"""Build and release logic of the Percolate monorepo.

The library holds the rules (tags, versions, CalVer image tags, plans) as pure
functions over frozen values, and keeps I/O (git, files, registries) in small
classes at the edges. `python -m pipelines` is its command line.
"""
