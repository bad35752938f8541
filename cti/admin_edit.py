"""Edits of the live document, one section item at a time (pure: document in, document out).

Each item is checked by its section's model (``cti.config_model``) before it is put in, so a
misspelt key is refused with its path; the whole document is then checked by ``ConfigAdmin``
(names across sections, passwords). Agents' password hashes are never handed out: ``redact``
replaces them with ``has_password``, and an agent written without a password keeps the one it had.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from cti.config_model import (
    AgentModel,
    CannedReplyModel,
    ChatModel,
    HoursModel,
    Label,
    QueueModel,
    RoutingModel,
    Strict,
    TeamModel,
    problems,
)
from cti.errors import InvalidInput, NotFound

# Sections of named items: (the key that names an item, its model).
NAMED: Mapping[str, tuple[str, type[BaseModel]]] = {
    "queues": ("name", QueueModel), "agents": ("id", AgentModel), "teams": ("name", TeamModel),
    "canned_replies": ("id", CannedReplyModel),
}
MAPPED: Mapping[str, type[BaseModel]] = {"business_hours": HoursModel}  # name -> item
OBJECTS: Mapping[str, type[BaseModel]] = {"chat": ChatModel, "routing": RoutingModel}
LISTS = ("dispositions", "away_reasons")
SECTIONS = (*NAMED, *MAPPED, *OBJECTS, *LISTS)


def checked(model: type[BaseModel], data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput("invalid-config", f"{where}: must be an object",
                           problems=[f"{where}: must be an object"])
    try:
        value = model.model_validate(dict(data))
    except ValidationError as exc:
        found = problems(exc, model, prefix=[where])
        raise InvalidInput("invalid-config", "; ".join(found), problems=found) from exc
    dumped: dict[str, Any] = value.model_dump(mode="json")
    return dumped


def _section(name: str) -> None:
    if name not in SECTIONS:
        raise NotFound("section-not-found", f"no live section {name!r}", section=name, known=list(SECTIONS))


def items(document: Mapping[str, Any], section: str) -> Any:
    _section(section)
    return redact_section(section, copy.deepcopy(document.get(section)))


def item(document: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    _section(section)
    if section in NAMED:
        key = NAMED[section][0]
        found = next((i for i in document.get(section) or [] if i.get(key) == name), None)
    elif section in MAPPED:
        found = (document.get(section) or {}).get(name)
    else:
        raise InvalidInput("not-a-named-section", f"{section!r} has no named items", section=section)
    if found is None:
        raise NotFound("item-not-found", f"no {name!r} in {section}", section=section, name=name)
    out: dict[str, Any] = redact_section(section,
                                         [copy.deepcopy(found)])[0] if section in NAMED else dict(found)
    return out


def put_item(document: Mapping[str, Any], section: str, name: str, data: Mapping[str, Any], *,
             merge: bool) -> dict[str, Any]:
    """The document with item ``name`` of ``section`` replaced by ``data`` (``merge``: the item's
    fields updated by those in ``data``), or added when it is new."""
    _section(section)
    doc = copy.deepcopy(dict(document))
    if section in MAPPED:
        current = (doc.get(section) or {}).get(name)
        if merge and current is None:
            raise NotFound("item-not-found", f"no {name!r} in {section}", section=section, name=name)
        body = {**(current or {}), **data} if merge else dict(data)
        doc[section] = {**(doc.get(section) or {}), name: checked(MAPPED[section], body, f"{section}.{name}")}
        return doc
    if section not in NAMED:
        raise InvalidInput("not-a-named-section", f"{section!r} has no named items", section=section)
    key, model = NAMED[section]
    entries = list(doc.get(section) or [])
    index = next((i for i, e in enumerate(entries) if e.get(key) == name), None)
    if merge and index is None:
        raise NotFound("item-not-found", f"no {name!r} in {section}", section=section, name=name)
    if data.get(key, name) != name:
        raise InvalidInput("name-mismatch", f"the path names {name!r}, the body {data.get(key)!r}",
                           section=section)
    body = {**(entries[index] if merge and index is not None else {}), **data, key: name}
    if section == "agents" and index is not None and "password" not in data:
        body["password"] = entries[index].get("password", "")  # not sent back to the page: kept
    body.pop("has_password", None)
    value = checked(model, body, f"{section}.{name}")
    if index is None:
        entries.append(value)
    else:
        entries[index] = value
    doc[section] = entries
    return doc


def delete_item(document: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    item(document, section, name)  # a 404 for an unknown one
    doc = copy.deepcopy(dict(document))
    if section in MAPPED:
        doc[section] = {k: v for k, v in (doc.get(section) or {}).items() if k != name}
    else:
        key = NAMED[section][0]
        doc[section] = [e for e in doc.get(section) or [] if e.get(key) != name]
    return doc


def put_section(document: Mapping[str, Any], section: str, data: Any) -> dict[str, Any]:
    """A whole object (chat, routing) or list (dispositions, away reasons) section replaced."""
    _section(section)
    doc = copy.deepcopy(dict(document))
    if section in OBJECTS:
        doc[section] = checked(OBJECTS[section], data, section)
    elif section in LISTS:
        doc[section] = checked(_Labels, {"items": data}, section)["items"]
    else:
        raise InvalidInput("named-section", f"{section!r} is changed one item at a time", section=section)
    return doc


class _Labels(Strict):
    items: list[Label]


def redact_section(section: str, value: Any) -> Any:
    if section != "agents" or not isinstance(value, list):
        return value
    out = []
    for agent in value:
        agent = dict(agent)
        agent["has_password"] = bool(agent.pop("password", ""))
        out.append(agent)
    return out


def redact(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: redact_section(k, copy.deepcopy(v)) for k, v in document.items()}


def skills_in_use(document: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Every skill named anywhere: which queues require it and which agents have it."""
    out: dict[str, dict[str, list[str]]] = {}
    for queue in document.get("queues") or []:
        for skill in queue.get("skills") or {}:
            out.setdefault(skill, {"queues": [], "agents": []})["queues"].append(queue["name"])
    for agent in document.get("agents") or []:
        for skill in agent.get("skills") or {}:
            out.setdefault(skill, {"queues": [], "agents": []})["agents"].append(agent["id"])
    return dict(sorted(out.items()))
