"""`emer-live app` (placeholder until implemented)."""


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    print("emer-live app: not implemented yet")
    return 1
