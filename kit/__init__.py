"""Local services for the tests, the demo and the benchmarks: never part of the shipped package.

- `loopback`: the one way to run an HTTP server on 127.0.0.1 (and a recording one), and the one reply helper;
- `registry`, `images`, `skopeo`, `fault_proxy`: a real OCI registry, images pushed into it, an independent
  client reading them back, and a proxy in front of it that paginates, authenticates and injects faults;
- `git`: git with a fixed identity and no user or system configuration;
- `rollouts`: Argo Rollouts objects in the shape the Kubernetes API returns them.

`pipelines/` and `infra/` never import it; it never imports `tests`.
"""
