"""Slack message payloads (text, blocks, attachments; mrkdwn) to chatapp's Markdown, so scripts written for
Slack incoming webhooks post here unchanged. What has no equivalent (buttons, images' pixels) becomes text."""

import re

_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_MENTION = re.compile(r"<[@#!]([^|>]+)(?:\|([^>]+))?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_STRIKE = re.compile(r"(?<![\w~])~([^~\n]+)~(?![\w~])")


def mrkdwn(text: str) -> str:
    """Slack mrkdwn to Markdown: <url|label> links, *bold*, ~strike~, <@U123|name> mentions; _italic_ and `code`
    are the same in both."""
    if not isinstance(text, str):
        return ""
    text = _LINK.sub(lambda m: f"[{m.group(2)}]({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _MENTION.sub(lambda m: "@" + (m.group(2) or m.group(1)), text)
    text = _BOLD.sub(r"**\1**", text)
    text = _STRIKE.sub(r"~~\1~~", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_object(obj) -> str:
    if isinstance(obj, dict):
        return mrkdwn(obj.get("text", "")) if obj.get("type") == "mrkdwn" else str(obj.get("text", ""))
    return ""


def _block(block: dict) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"### {_text_object(block.get('text'))}"
    if kind == "divider":
        return "---"
    if kind == "section":
        parts = [_text_object(block.get("text"))]
        parts += [_text_object(field) for field in block.get("fields", []) if isinstance(field, dict)]
        return "\n".join(p for p in parts if p)
    if kind == "context":
        return " · ".join(_text_object(e) or e.get("alt_text", "") for e in block.get("elements", [])
                          if isinstance(e, dict))  # fmt: skip
    if kind == "image":
        return f"[{block.get('alt_text') or 'image'}]({block.get('image_url', '')})"
    if kind == "rich_text":
        return "".join(_rich(e) for e in block.get("elements", []) if isinstance(e, dict))
    return ""


def _rich(element: dict) -> str:
    if element.get("type") == "text":
        return element.get("text", "")
    if element.get("type") == "link":
        return f"[{element.get('text') or element.get('url')}]({element.get('url', '')})"
    return "".join(_rich(e) for e in element.get("elements", []) if isinstance(e, dict))


def _attachment(attachment: dict) -> str:
    lines = []
    if attachment.get("pretext"):
        lines.append(mrkdwn(attachment["pretext"]))
    if attachment.get("author_name"):
        lines.append(f"_{attachment['author_name']}_")
    title = attachment.get("title")
    if title:
        link = attachment.get("title_link")
        lines.append(f"**[{title}]({link})**" if link else f"**{title}**")
    if attachment.get("text"):
        lines.append(mrkdwn(attachment["text"]))
    for field in attachment.get("fields", []):
        if isinstance(field, dict) and (field.get("title") or field.get("value")):
            lines.append(f"**{field.get('title', '')}**: {mrkdwn(str(field.get('value', '')))}")
    lines += [_block(b) for b in attachment.get("blocks", []) if isinstance(b, dict)]
    if attachment.get("footer"):
        lines.append(f"_{attachment['footer']}_")
    if not lines and attachment.get("fallback"):
        lines.append(str(attachment["fallback"]))
    return "\n".join(line for line in lines if line)


def to_markdown(payload: dict) -> str:
    """The message body for a Slack-style payload. When blocks are present Slack shows them instead of `text`
    (which is then the notification fallback), and so do we."""
    blocks = [b for b in payload.get("blocks") or [] if isinstance(b, dict)]
    parts = [_block(b) for b in blocks] if blocks else [mrkdwn(payload.get("text", ""))]
    parts += [_attachment(a) for a in payload.get("attachments") or [] if isinstance(a, dict)]
    return "\n\n".join(p for p in parts if p and p.strip()).strip()
