from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "sustain.ledger"
    label = "ledger"
    verbose_name = "Controlled-substance ledger"

    def ready(self) -> None:
        # The day board (scheduling, below the ledger) marks the visits whose ledger is open.
        from sustain.ledger.visits import board_notes  # noqa: PLC0415 - models are loaded now
        from sustain.scheduling.queries import add_board_notes  # noqa: PLC0415 - likewise

        add_board_notes(board_notes)
        import sustain.ledger.chain  # noqa: F401, PLC0415 - the worker anchors every chain
