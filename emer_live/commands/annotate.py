"""`emer-live annotate` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live annotate: not implemented yet")
    return 1
