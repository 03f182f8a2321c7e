"""Running ``tod-al`` in the test process: the exit code and what it printed."""
import pytest

from tod_plugin_cli.main import main


def run_cli(args, capsys):
    """``(exit code, stdout, stderr)`` of ``tod-al ARGS`` (arguments made strings, so paths and numbers pass)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err
