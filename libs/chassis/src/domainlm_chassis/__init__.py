"""Transport and runtime for domainlm services: Kafka and process plumbing, never stage logic."""
