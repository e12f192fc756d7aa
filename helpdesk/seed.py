"""Bulk demo/benchmark data (filled in by `flask seed`)."""


def seed_tickets(count: int, random_seed: int = 1, echo=print) -> None:
    raise NotImplementedError
