"""One module per ``python -m finhub`` command; see :mod:`finhub.cli`."""
