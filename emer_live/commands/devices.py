"""`emer-live devices` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live devices: not implemented yet")
    return 1
