"""Areas partition the graph: a borough in New York, a neighbourhood where a city has no groups.

Dynamic, because areas come from the data: loading a file adds its areas.
"""

from dagster import DynamicPartitionsDefinition

area_partitions = DynamicPartitionsDefinition(name="area")


def register_areas(instance, areas) -> list[str]:
    """Add the areas Dagster does not know yet; returns the new ones."""
    known = set(instance.get_dynamic_partitions(area_partitions.name))
    new = sorted(set(areas) - known)
    if new:
        instance.add_dynamic_partitions(area_partitions.name, new)
    return new
