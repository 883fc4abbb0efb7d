"""Kafka ingestion with exactly-once effect (docs/decisions/0005-kafka-exactly-once-effect.md).

- `batch`: one partition batch -> one ledger transaction (events, dead letters, position);
- `consumer`: the consumer-group member (`ledger consume`), positions from the ledger;
- `fetching`: what the client cannot decode becomes an undecodable message, never a crash;
- `messages`: message -> envelope (structured or binary CloudEvents), envelope -> key;
- `relay`: the dead-letter outbox relay to the DLQ topic, exactly once (`leader_lock`);
- `dlq`: listing, replaying and resolving dead letters; `dead_letters`: their stored events;
- `publisher`: `ledger publish`; `topics`: topic creation;
- `observability`: Prometheus metrics, `--stats`, JSON logs; `service`: the wiring;
- `cli`: the commands, registered on the `ledger` app in cli/main.py.
"""
