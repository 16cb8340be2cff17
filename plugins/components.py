"""Components: declarative UI for chat (message cards, forms, link previews, dashboard tiles).

A component is an input JSON Schema plus a template in a logic-light language (Jinja2's SandboxedEnvironment:
no attribute access to Python internals, no imports, bounded output), rendered to either

- a card: restricted Adaptive-Card-like JSON (CARD_SCHEMA). The template is the card itself with Jinja in its
  string values; each string is rendered on its own, so an input can never break out of its string, and the
  rendered card is validated (URLs must be https://, element types are a closed list); or
- HTML: rendered with autoescaping, then cleaned with nh3 (tags and attributes allow-listed, no scripts, no
  event handlers, no javascript: URLs).

Each component carries samples (inputs and the expected output): `component_check` validates the schema,
renders every sample and compares it with its snapshot, which is what the builder runs before publishing.
"""

import json

import jsonschema
import nh3
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT = 64 * 1024
HTML_TAGS = {"p", "b", "strong", "i", "em", "ul", "ol", "li", "a", "code", "pre", "br", "span", "div", "h3", "h4",
             "table", "tr", "td", "th", "thead", "tbody", "img", "blockquote"}  # fmt: skip
HTML_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "span": {"class"},
                   "div": {"class"}, "td": {"colspan"}, "th": {"colspan"}}  # fmt: skip
HTTPS = {"type": "string", "pattern": "^https://", "maxLength": 2000}
TEXT = {"type": "string", "maxLength": 4000}
CARD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "chatapp card (a restricted Adaptive Card)",
    "type": "object",
    "required": ["type", "body"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "AdaptiveCard"},
        "version": {"type": "string"},
        "body": {"type": "array", "items": {"$ref": "#/$defs/element"}, "maxItems": 50},
        "actions": {"type": "array", "items": {"$ref": "#/$defs/action"}, "maxItems": 6},
    },
    "$defs": {
        "element": {
            "oneOf": [
                {"type": "object", "additionalProperties": False, "required": ["type", "text"],
                 "properties": {"type": {"const": "TextBlock"}, "text": TEXT, "weight": {"enum": ["default", "bolder"]},
                                "size": {"enum": ["small", "default", "medium", "large"]}, "wrap": {"type": "boolean"},
                                "isSubtle": {"type": "boolean"}}},
                {"type": "object", "additionalProperties": False, "required": ["type", "url"],
                 "properties": {"type": {"const": "Image"}, "url": HTTPS, "altText": TEXT}},
                {"type": "object", "additionalProperties": False, "required": ["type", "facts"],
                 "properties": {"type": {"const": "FactSet"}, "facts": {"type": "array", "maxItems": 30, "items": {
                     "type": "object", "additionalProperties": False, "required": ["title", "value"],
                     "properties": {"title": TEXT, "value": TEXT}}}}},
                {"type": "object", "additionalProperties": False, "required": ["type", "id"],
                 "properties": {"type": {"const": "Input.Text"}, "id": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                                "label": TEXT, "placeholder": TEXT, "isMultiline": {"type": "boolean"}}},
                {"type": "object", "additionalProperties": False, "required": ["type", "items"],
                 "properties": {"type": {"const": "Container"},
                                "items": {"type": "array", "items": {"$ref": "#/$defs/element"}, "maxItems": 30}}},
            ]
        },
        "action": {
            "oneOf": [
                {"type": "object", "additionalProperties": False, "required": ["type", "title", "url"],
                 "properties": {"type": {"const": "Action.OpenUrl"}, "title": TEXT, "url": HTTPS}},
                {"type": "object", "additionalProperties": False, "required": ["type", "title"],
                 "properties": {"type": {"const": "Action.Submit"}, "title": TEXT, "data": {"type": "object"}}},
            ]
        },
    },
}  # fmt: skip
_card_validator = jsonschema.Draft202012Validator(CARD_SCHEMA)
_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_html_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


class ComponentError(ValueError):
    """The component or an input is invalid, or rendering failed; `errors` maps where to what."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _inputs_check(schema: dict, inputs) -> None:
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(inputs)]
    if errors:
        raise ComponentError({"inputs": errors})


def _render_string(env, template: str, inputs: dict) -> str:
    try:
        text = env.from_string(template).render(**inputs)
    except TemplateError as exc:
        raise ComponentError({"template": [f"{type(exc).__name__}: {exc}"]}) from None
    if len(text) > MAX_OUTPUT:
        raise ComponentError({"template": [f"renders to more than {MAX_OUTPUT} characters"]})
    return text


def _render_tree(node, inputs):
    if isinstance(node, str):
        return _render_string(_env, node, inputs)
    if isinstance(node, list):
        return [_render_tree(item, inputs) for item in node]
    if isinstance(node, dict):
        return {key: _render_tree(value, inputs) for key, value in node.items()}
    return node


def render(*, output: str, template, input_schema: dict, inputs: dict):
    """Render a component: a card (dict) or sanitized HTML (str). ComponentError with the reason otherwise."""
    _inputs_check(input_schema, inputs)
    if output == "card":
        if isinstance(template, str):
            try:
                template = json.loads(template)
            except ValueError:
                raise ComponentError({"template": ["a card template is JSON"]}) from None
        card = _render_tree(template, inputs)
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or 'card'}: {e.message}" for e in _card_validator.iter_errors(card)
        ]
        if errors:
            raise ComponentError({"output": errors})
        return card
    if output == "html":
        html = _render_string(_html_env, template, inputs)
        return nh3.clean(html, tags=HTML_TAGS, attributes=HTML_ATTRIBUTES, url_schemes={"https", "mailto"})
    raise ComponentError({"output": ["choose card or html"]})


def component_check(*, output: str, template, input_schema: dict, samples: list[dict]) -> list[dict]:
    """Validate the schema and run every sample against its snapshot: [{name, ok, output, detail}]."""
    try:
        jsonschema.Draft202012Validator.check_schema(input_schema)
    except jsonschema.SchemaError as exc:
        raise ComponentError({"input_schema": [exc.message]}) from None
    if not samples:
        raise ComponentError({"samples": ["add at least one sample input with its expected output"]})
    results = []
    for number, sample in enumerate(samples, 1):
        name = sample.get("name") or f"sample {number}"
        try:
            rendered = render(output=output, template=template, input_schema=input_schema, inputs=sample.get("input"))
        except ComponentError as exc:
            results.append({"name": name, "ok": False, "output": None, "detail": str(exc)})
            continue
        expected = sample.get("expected")
        ok = expected is None or expected == rendered
        detail = "" if ok else "the output differs from the expected snapshot"
        results.append({"name": name, "ok": ok, "output": rendered, "detail": detail})
    return results


def component_docs(*, name: str, description: str, input_schema: dict, samples: list[dict]) -> str:
    """Markdown documentation generated from the schema: inputs, then each sample."""
    lines = [f"# {name}", "", description, "", "## Inputs", "", "| name | type | required | description |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    required = set(input_schema.get("required", []))
    for field, spec in input_schema.get("properties", {}).items():
        kind = spec.get("type", "any")
        lines.append(f"| `{field}` | {kind} | {'yes' if field in required else 'no'} | {spec.get('description', '')} |")
    for sample in samples:
        lines += ["", f"## Example: {sample.get('name', '')}", "", "```json", json.dumps(sample.get("input"), indent=2),
                  "```"]  # fmt: skip
    return "\n".join(lines) + "\n"
