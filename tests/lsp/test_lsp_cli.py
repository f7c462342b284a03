"""`dbleak server` on the command line."""

from __future__ import annotations

import subprocess
import sys


def test_server_without_pygls_says_how_to_install_it():
    script = ("import sys; sys.modules['pygls'] = None; sys.argv = ['dbleak', 'server'];"
              "from dbleak.cli import main; main()")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 2
    assert "pip install 'dbleak[lsp]'" in run.stderr
