"""The command line: one module per verb, gathered by :mod:`impactreport.cli.main`."""
