"""pcplab.report: mmtests-style tables, noise reports, plots, HTML and mmtests interop.

Modules: ``mmtests_table`` (compare-mmtests.pl's text table), ``pft_tables`` ("pft timings" and
"pft faults"), ``pft_log`` (pft's log line, ExtractPft's parsing), ``mmtests_dir`` (results-tree
export/import), ``naming`` (run names), ``noise`` (osnoise-style noise, drain latency and checker
tables), ``plots`` (matplotlib figures), ``html`` (one self-contained page), ``backends`` and
``compare`` (the `pcplab compare` pipeline).
"""
