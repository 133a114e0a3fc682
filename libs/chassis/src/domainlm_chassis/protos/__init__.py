"""Python code generated from proto/ by libs/chassis/hatch_build.py when the package is installed.

Nothing else here is committed: `uv sync` regenerates it whenever a .proto changes. If
`domainlm_chassis.protos.domainlm` is missing, run `uv sync --reinstall-package domainlm-chassis`.
"""
