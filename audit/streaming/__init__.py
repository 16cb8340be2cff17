"""Streaming an organization's audit events to its SIEM: HTTPS webhooks and syslog (RFC 5424 over TCP).

- `formats`: the wire formats (webhook JSON and its signature, RFC 5424 messages with RFC 6587 framing).
- `transport`: outbound connections with SSRF protection (resolve, require global addresses, pin the address).
- `services`: destination create/update/delete/test and `destination_deliver` (cursor, batches, backoff).
"""
