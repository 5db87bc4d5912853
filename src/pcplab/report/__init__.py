"""pcplab.report: mmtests-style tables, noise reports, plots and HTML."""
