"""`emer-live bench` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live bench: not implemented yet")
    return 1
