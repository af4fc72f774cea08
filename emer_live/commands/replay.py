"""`emer-live replay` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live replay: not implemented yet")
    return 1
