"""pcplab: executable models of the Linux page allocator's per-CPU page lists and their drains."""

__version__ = "0.1.0"
