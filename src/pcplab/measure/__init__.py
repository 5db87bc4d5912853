"""Measurements on this host: ``pcplab measure pft`` builds pcplab's own pft (``pft.c``, mmtests'
pft semantics) with the machine's C compiler and runs it as mmtests would
(:mod:`pcplab.measure.pft`, :mod:`pcplab.measure.build`)."""
