"""`domainlm submit`: puts PDFs on the `documents` topic, the door other services use too."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from domainlm.ingest import DocumentMessage


def submit(
    pdfs: Annotated[list[Path], typer.Argument(help="PDF files to submit")],
    bootstrap: Annotated[
        str, typer.Option(envvar="DOMAINLM_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers")
    ] = "127.0.0.1:9092",
    topic: Annotated[str, typer.Option(help="the documents topic")] = "documents",
    by_reference: Annotated[
        bool, typer.Option(help="send file:// URIs (shared storage) instead of the bytes")
    ] = False,
    max_inline_bytes: Annotated[int, typer.Option(help="larger files are sent by reference")] = 8
    * 1024
    * 1024,
) -> None:
    """Submit PDFs to the services: small ones inline (base64), large ones by reference."""
    from kafka import KafkaProducer  # here, not at import: every `domainlm` command loads this module

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=16 * 1024 * 1024)
    for pdf in pdfs:
        data = pdf.read_bytes()
        if by_reference or len(data) > max_inline_bytes:
            message = DocumentMessage(source=str(pdf), uri=pdf.resolve().as_uri())
        else:
            message = DocumentMessage(source=str(pdf), pdf_base64=base64.b64encode(data).decode())
        # Keyed by content, so a resubmission lands on the same partition as the first.
        key = hashlib.sha256(data).hexdigest()
        producer.send(
            topic,
            key=key.encode(),
            value=json.dumps(message.model_dump(exclude_none=True), ensure_ascii=False).encode(),
        )
        typer.echo(f"submitted {pdf} ({'reference' if message.uri else 'inline'}) as {key[:12]}", err=True)
    producer.flush()
    producer.close()
