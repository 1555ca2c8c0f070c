"""Event contracts, the unit registry, the cell table and the fold: pure, no Kafka."""
