"""The generator service: chunks from the `chunks` topic become samples on `samples.generated`."""
