"""Run by the tests in a separate process: the real sentry-sdk reports exceptions to the DSN given.

    python sdk_client.py <dsn> <call,call,...> <password> <stripe key> <user as JSON>

The SDK's own scrubbing is switched off (send_default_pii, empty denylist) so that what reaches the server still
holds the secrets: the test then proves that *chatapp* removes them before storing anything.
"""

import json
import sys

import sentry_sdk
from sentry_sdk.scrubber import EventScrubber


def add_request(event, hint):
    # What a web framework integration would attach: headers with credentials.
    event["request"] = {
        "url": "https://shop.example/checkout?card=4111111111111111",
        "method": "POST",
        "headers": {"Authorization": "Bearer hdr-SECRET-abcdef123456", "X-Api-Key": "hdrkey-SECRET-998877",
                    "User-Agent": "sdk-test"},
        "cookies": {"sessionid": "cookie-SECRET-value"},
    }  # fmt: skip
    return event


def charge(step):
    # Secrets read at run time (as from configuration): local variables the SDK reports with the frame.
    password, stripe_credential = sys.argv[3], sys.argv[4]  # noqa: F841
    if step == 1:
        raise ValueError("payment declined")
    declined = ValueError("payment declined")
    raise declined


def main():
    dsn, calls = sys.argv[1], sys.argv[2].split(",")
    sentry_sdk.init(
        dsn=dsn, release="shop@1.2.3", environment="test", send_default_pii=True, before_send=add_request,
        event_scrubber=EventScrubber(denylist=[], send_default_pii=True), default_integrations=False,
    )  # fmt: skip
    sentry_sdk.set_user(json.loads(sys.argv[5]))
    for call in calls:
        try:
            charge(1 if call == "line1" else 2)
        except ValueError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
