"""French number formatting of the command reports (seed summaries)."""


def count(value: int) -> str:
    """12 345 with a narrow no-break space, as French writes it."""
    return f"{value:,}".replace(",", "\u202f")


def share(part: int, total: int) -> str:
    """A percentage with one decimal and a decimal comma: 84,5."""
    return f"{100 * part / (total or 1):.1f}".replace(".", ",")
