"""`emer-live run` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live run: not implemented yet")
    return 1
