"""`emer-live export` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live export: not implemented yet")
    return 1
