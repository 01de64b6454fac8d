"""The ``drain`` command line: a thin layer over the same functions a notebook calls."""
