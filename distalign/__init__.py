"""distalign: distributional alignment benchmark (Meister, Guestrin, Hashimoto; NAACL 2025)."""

__version__ = "0.2.0"
