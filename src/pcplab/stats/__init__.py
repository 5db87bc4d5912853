"""mmtests-compatible statistics: summary rows, % differences and the significance marker."""

from pcplab.stats.significance import RULES, Significance, significance
from pcplab.stats.summary import OpSummary, Row, pdiff, pndiff, summarise
from pcplab.stats.tdist import betainc, t_cdf, t_sf_two_sided

__all__ = [
    "RULES",
    "OpSummary",
    "Row",
    "Significance",
    "betainc",
    "pdiff",
    "pndiff",
    "significance",
    "summarise",
    "t_cdf",
    "t_sf_two_sided",
]
