"""The ``tod-al`` command line (installed as the import package ``tod_plugin_cli``)."""
