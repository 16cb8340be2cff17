"""Chat Markdown to Atlassian Document Format (Jira Cloud REST v3 bodies): paragraphs, line breaks, links and
inline code; everything else stays readable text."""

import re

_TOKEN = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)|`([^`]+)`|(https?://\S+)")


def _inline(line: str) -> list[dict]:
    nodes, position = [], 0
    for match in _TOKEN.finditer(line):
        if match.start() > position:
            nodes.append({"type": "text", "text": line[position : match.start()]})
        label, url, code, bare = match.groups()
        if code is not None:
            nodes.append({"type": "text", "text": code, "marks": [{"type": "code"}]})
        else:
            href = url or bare
            nodes.append({"type": "text", "text": label or bare, "marks": [{"type": "link", "attrs": {"href": href}}]})
        position = match.end()
    if position < len(line):
        nodes.append({"type": "text", "text": line[position:]})
    return nodes


def to_adf(markdown: str) -> dict:
    """A version-1 ADF document: one paragraph per blank-line-separated block, hard breaks between lines."""
    content = []
    for block in re.split(r"\n\s*\n", (markdown or "").strip()):
        if not block.strip():
            continue
        paragraph: list[dict] = []
        for index, line in enumerate(block.splitlines()):
            if index:
                paragraph.append({"type": "hardBreak"})
            paragraph.extend(_inline(line))
        content.append({"type": "paragraph", "content": paragraph})
    return {"type": "doc", "version": 1, "content": content or [{"type": "paragraph", "content": []}]}


def to_text(node) -> str:
    """ADF back to plain text (for inbound Jira comments and descriptions)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return node.get("text", "")
    if node.get("type") == "hardBreak":
        return "\n"
    inner = "".join(to_text(child) for child in node.get("content", []))
    return inner + ("\n" if node.get("type") in ("paragraph", "heading", "listItem") else "")
