from ledger.cli import app

app()
