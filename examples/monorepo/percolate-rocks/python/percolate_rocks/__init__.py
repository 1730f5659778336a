from percolate_rocks._core import core_version

__all__ = ["core_version"]
