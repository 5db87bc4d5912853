"""Machine profiles: built-in TOML descriptions of the seed's machines, this host, and
``/proc/zoneinfo`` imports, each turned into a :class:`pcplab.mm.topology.Topology`.

Public API::

    get_profile(name) -> Profile          # built-in name or "host"; unknown -> PcplabError
    profile_names() -> list[str]
    load_profile(path) -> Profile         # a user's TOML profile
    Profile.topology(**overrides) -> Topology
    Profile.cost(key) -> float            # REQUIRED_COSTS are present on every profile
    Profile.cpu_position(cpu) -> (socket, core, thread); Profile.cpu_node(cpu)
    parse_zoneinfo(text, ...) / load_zoneinfo(path, ...) -> Zoneinfo (zones with reported values)
    Zoneinfo.topology() -> Topology
    compare_zoneinfo(zoneinfo, version) / model_zones(topology, version)  (pcplab.machines.sizing)
"""

from pcplab.machines.profile import REQUIRED_COSTS, Fact, Profile, load_profile, parse_profile
from pcplab.machines.registry import HOST, builtin_names, get_profile, profile_names
from pcplab.machines.zoneinfo import Zoneinfo, load_zoneinfo, parse_zoneinfo

__all__ = [
    "HOST",
    "REQUIRED_COSTS",
    "Fact",
    "Profile",
    "Zoneinfo",
    "builtin_names",
    "get_profile",
    "load_profile",
    "load_zoneinfo",
    "parse_profile",
    "parse_zoneinfo",
    "profile_names",
]
