"""Components: snapshots run by the builder, XSS payloads rendered inert, live preview, publishing, org scope."""

import re

from audit.models import AuditEvent
from plugins.models import Component

SCHEMA = {
    "type": "object",
    "required": ["title", "url"],
    "properties": {"title": {"type": "string", "description": "Headline"}, "url": {"type": "string"},
                   "status": {"type": "string"}},
}  # fmt: skip
CARD = {
    "type": "AdaptiveCard",
    "body": [{"type": "TextBlock", "text": "{{ title }}", "weight": "bolder"},
             {"type": "FactSet", "facts": [{"title": "Status", "value": "{{ status | default('open') }}"}]}],
    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "{{ url }}"}],
}  # fmt: skip
SAMPLE = {"name": "an issue", "input": {"title": "Build broken", "url": "https://ci.example.com/1"},
          "expected": {"type": "AdaptiveCard",
                       "body": [{"type": "TextBlock", "text": "Build broken", "weight": "bolder"},
                                {"type": "FactSet", "facts": [{"title": "Status", "value": "open"}]}],
                       "actions": [{"type": "Action.OpenUrl", "title": "Open",
                                    "url": "https://ci.example.com/1"}]}}  # fmt: skip
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def save(client, **changes):
    body = {"key": "issue-card", "name": "Issue card", "output": "card", "input_schema": SCHEMA, "template": CARD,
            "samples": [SAMPLE], **changes}  # fmt: skip
    return client.post("/api/v1/orgs/acme/plugins/components/", body, format="json")


def preview(client, **body):
    return client.post("/api/v1/orgs/acme/plugins/components/preview", {"input_schema": SCHEMA, **body}, format="json")


def test_snapshots_pass_and_docs_are_generated(acme, client_for):
    response = save(client_for(acme.admin))
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 1
    assert "| `title` | string | yes | Headline |" in response.json()["docs"]
    assert save(client_for(acme.admin)).json()["version"] == 2
    assert AuditEvent.objects.filter(event_name="plugin.component_saved").count() == 2


def test_a_snapshot_that_differs_refuses_the_save(acme, client_for):
    wrong = {**SAMPLE, "expected": {**SAMPLE["expected"], "body": []}}
    response = save(client_for(acme.admin), samples=[wrong])
    assert response.status_code == 400
    assert response.json()["errors"]["samples"] == ["an issue: the output differs from the expected snapshot"]
    assert not Component.objects.exists()


def test_xss_in_card_inputs_stays_text_and_script_urls_are_refused(acme, client_for):
    client = client_for(acme.admin)
    response = preview(client, output="card", template=CARD, inputs={"title": XSS, "url": "https://x.example"})
    assert response.status_code == 200
    assert response.json()["output"]["body"][0] == {"type": "TextBlock", "text": XSS, "weight": "bolder"}
    response = preview(client, output="card", template=CARD, inputs={"title": "t", "url": "javascript:alert(1)"})
    assert response.status_code == 400 and "javascript:alert(1)" in response.json()["errors"]["output"][0]
    # a string input cannot break out of its JSON string to add elements
    breakout = '", "type": "Image", "url": "https://evil'
    response = preview(client, output="card", template=CARD, inputs={"title": breakout, "url": "https://x.example"})
    assert response.json()["output"]["body"][0]["type"] == "TextBlock"


def test_xss_in_html_components_is_inert(acme, client_for):
    template = '<div class="card"><h3>{{ title }}</h3><a href="{{ url }}">open</a>{{ status | safe }}</div>'
    response = preview(client_for(acme.admin), output="html", template=template,
                       inputs={"title": XSS, "url": "javascript:alert(1)", "status": XSS})  # fmt: skip
    html = response.json()["output"]
    assert "<script" not in html and "javascript:" not in html
    assert not re.search(r"<[^>]*onerror", html)  # only as escaped text, never as an attribute
    assert '<img src="x">' in html  # the |safe markup was cleaned, not trusted
    assert "&lt;script&gt;" in html  # the title is shown as text


def test_sandboxed_templates_cannot_reach_python(acme, client_for):
    response = preview(client_for(acme.admin), output="html", template="{{ title.__class__.__mro__ }}",
                       inputs={"title": "x", "url": "https://x"})  # fmt: skip
    assert response.status_code == 400
    assert "SecurityError" in response.json()["errors"]["template"][0]


def test_preview_is_for_builders(acme, client_for):
    assert preview(client_for(acme.member), output="card", template=CARD, inputs={}).status_code == 403


def test_bad_inputs_are_refused_with_the_reason(acme, client_for):
    response = preview(client_for(acme.admin), output="card", template=CARD, inputs={"title": 3})
    assert response.status_code == 400
    assert "'url' is a required property" in response.json()["errors"]["inputs"]


def test_publish_lists_it_in_the_marketplace_and_globex_cannot_see_it(acme, globex, client_for):
    save(client_for(acme.admin))
    assert client_for(acme.member).post("/api/v1/orgs/acme/plugins/components/issue-card/publish").status_code == 403
    assert client_for(acme.admin).post("/api/v1/orgs/acme/plugins/components/issue-card/publish").json()["published"]
    assert [c["key"] for c in client_for(globex.member).get("/api/v1/marketplace/components/").json()] == ["issue-card"]
    assert client_for(globex.admin).get("/api/v1/orgs/globex/plugins/components/issue-card/").status_code == 404
    assert client_for(globex.admin).post("/api/v1/orgs/globex/plugins/components/issue-card/publish").status_code == 404
