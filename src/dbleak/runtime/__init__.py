"""The runtime check: a pytest plugin (``pytest --dbleak``) that records which database objects a
test suite leaves open and which reads returned the most rows.

Nothing here imports pytest except :mod:`dbleak.runtime.plugin`, which pytest loads through the
``pytest11`` entry point. See docs/runtime.md.
"""
