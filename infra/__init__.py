"""The local Kafka broker, the topic table and connection settings."""
