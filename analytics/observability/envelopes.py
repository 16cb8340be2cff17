"""Reading Sentry envelopes: body decoding with a size cap, then the header and items.

Format (https://develop.sentry.dev/sdk/data-model/envelopes/): a JSON header line, then items, each a JSON item
header line (`type`, optional `length`) and a payload of `length` bytes, or up to the next newline when there is
no length. SDKs compress the body with gzip (the Python SDK), brotli (when the client has `brotli` installed) or
deflate; every decoder here stops at the cap instead of inflating a bomb into memory.
"""

import json
import zlib

import brotli


class EnvelopeError(Exception):
    """The body cannot be read as an envelope; the message is safe to show the client."""


class TooLarge(EnvelopeError):
    pass


_CHUNK = 64 * 1024


def decode_body(body: bytes, encoding: str, *, limit: int) -> bytes:
    """The body with its Content-Encoding removed; TooLarge past `limit` decoded bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        data = body
    elif encoding in ("gzip", "x-gzip", "deflate"):
        # gzip: wbits 16+; deflate: zlib-wrapped per the RFC, but some clients send raw deflate (try both).
        attempts = (zlib.MAX_WBITS | 16,) if encoding != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
        for index, wbits in enumerate(attempts):
            try:
                data = _inflate(zlib.decompressobj(wbits), body, limit)
                break
            except zlib.error as exc:
                if index == len(attempts) - 1:
                    raise EnvelopeError(f"the body is not valid {encoding}") from exc
    elif encoding == "br":
        data = _unbrotli(body, limit)
    else:
        raise EnvelopeError(f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or br")
    if len(data) > limit:
        raise TooLarge(f"the decoded envelope is larger than {limit} bytes")
    return data


def _inflate(decompressor, body: bytes, limit: int) -> bytes:
    out = bytearray()
    data = body
    while data:
        out += decompressor.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise TooLarge(f"the decoded envelope is larger than {limit} bytes")
        data = decompressor.unconsumed_tail
    out += decompressor.flush()
    if not decompressor.eof:
        raise zlib.error("truncated stream")
    return bytes(out)


def _unbrotli(body: bytes, limit: int) -> bytes:
    decompressor = brotli.Decompressor()
    out = bytearray()
    try:
        out += decompressor.process(body, output_buffer_limit=_CHUNK)
        while len(out) <= limit and not decompressor.is_finished() and not decompressor.can_accept_more_data():
            out += decompressor.process(b"", output_buffer_limit=_CHUNK)
    except brotli.error as exc:
        raise EnvelopeError("the body is not valid brotli") from exc
    if len(out) > limit:
        raise TooLarge(f"the decoded envelope is larger than {limit} bytes")
    if not decompressor.is_finished():
        raise EnvelopeError("the brotli stream is truncated")
    return bytes(out)


def parse(data: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """(envelope header, [(item header, payload bytes)]). Item payloads are not decoded here."""
    newline = data.find(b"\n")
    head, position = (data, len(data)) if newline < 0 else (data[:newline], newline + 1)
    header = _json_object(head, "envelope header")
    items = []
    while position < len(data):
        newline = data.find(b"\n", position)
        line_end = len(data) if newline < 0 else newline
        line = data[position:line_end]
        position = line_end + 1
        if not line.strip():
            continue  # trailing newline
        item_header = _json_object(line, "item header")
        length = item_header.get("length")
        if length is not None:
            if not isinstance(length, int) or length < 0 or position + length > len(data) + 1:
                raise EnvelopeError("an item's length runs past the end of the envelope")
            payload = data[position : position + length]
            position += length + 1  # the payload's own newline (optional at the very end)
        else:
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline
            payload, position = data[position:end], end + 1
        items.append((item_header, payload))
    return header, items


def _json_object(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise EnvelopeError(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise EnvelopeError(f"the {what} is not a JSON object")
    return value


def json_payload(payload: bytes) -> dict | None:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
