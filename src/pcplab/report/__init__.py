"""pcplab.report: mmtests-style tables, noise reports, plots, HTML and mmtests/rtla interop.

Modules: ``summary`` (the block that opens `pcplab compare`), ``mmtests_table``
(compare-mmtests.pl's text table), ``pft_tables`` ("pft timings" and "pft faults"), ``pft_log``
(pft's log line, ExtractPft's parsing), ``mmtests_dir`` (results-tree export/import),
``rtla_import`` (captured ``rtla osnoise top`` output), ``rtla_hist_import`` (``rtla osnoise
hist`` output), ``tracecmd_import`` (``trace-cmd report`` text), ``naming`` (run names), ``noise`` (noise in
``rtla osnoise top``'s columns, drain latency and checker tables), ``isolated_latency`` (the
isolated tasks' own allocation latency), ``plots`` (matplotlib figures, object-oriented API, no
backend chosen), ``html`` (one self-contained page), ``files`` (atomic output files),
``provenance`` (versions, host, command line of a run), ``backends`` and ``compare`` (the
`pcplab compare` pipeline).
"""
