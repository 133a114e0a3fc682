"""domainlm: turn an organisation's private documents into its own domain LLM."""

__version__ = "0.1.0"
