"""Why a liability: the ledger entries it rests on, read back and put into words.

A liability row says who, which kind and basis; HR needs the rest to justify a decision:
the policy and version with its rule and description, the values the rule read (7 days
promised against a 3-day rule) or the field it could not read, the subordinate of a
supervisor liability, the review due time and where the obligation climbed, the step's
title and output standard, the severity and the appeal history. All of it is read from
the ledger's own entries (the case's stream, the policy's and process's definitions, the
liability's appeals), never recomputed, and each part names the position of the entry it
comes from, so that a proof bundle proves every part shown (docs/evidence-format.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.adapters.labels import DEFAULT_LANG, Lang, label, word
from ledger.adapters.store import EventStore
from ledger.domain.events import EntryRecorded

#: `payload.a.b` in a CEL rule: the field paths the rule reads.
_PATH = re.compile(r"\bpayload((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_MISSING = object()


def rule_paths(rule: str) -> list[str]:
    """The payload fields a rule reads, as dotted paths below `payload`, in order."""
    seen: dict[str, None] = {}
    for match in _PATH.finditer(rule):
        seen[match.group(1)[1:]] = None
    return list(seen)


def lookup(payload: Any, path: str) -> Any:
    """The value at a dotted path of a payload, or `_MISSING`."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _data(entry: EntryRecorded) -> dict[str, Any]:
    data = entry.envelope.get("data")
    return data if isinstance(data, dict) else {}


def _pick(entry: EntryRecorded, *names: str) -> dict[str, Any]:
    """The named fields of an entry's data (those it has) and the entry's position."""
    data = _data(entry)
    return {"position": entry.position, **{n: data[n] for n in names if n in data}}


class Explainer:
    """Explains liabilities of one tenant, reading each stream once."""

    def __init__(self, store: EventStore, tenant: str, lang: Lang = DEFAULT_LANG,
                 names: Mapping[str, str] | None = None) -> None:
        """`names`: employees' names by id (the org read model), for the sentences."""
        self.store, self.tenant, self.lang = store, tenant, lang
        self.names: Mapping[str, str] = names or {}
        self._streams: dict[str, list[EntryRecorded]] = {}
        #: Every entry an explanation showed, by position (for the document's proofs).
        self.used: dict[int, EntryRecorded] = {}

    def stream(self, stream: str) -> list[EntryRecorded]:
        if stream not in self._streams:
            found = self.store.find_entries(self.tenant, stream=stream)
            self._streams[stream] = sorted(found, key=lambda e: e.position)
        return self._streams[stream]

    def case_entries(self, case_id: str) -> list[EntryRecorded]:
        return self.stream(f"case:{case_id}")

    def _use(self, entry: EntryRecorded) -> EntryRecorded:
        self.used[entry.position] = entry
        return entry

    def _latest(self, entries: Iterable[EntryRecorded], type_: str,
                **match: Any) -> EntryRecorded | None:
        found = None
        for entry in entries:
            data = _data(entry)
            if entry.envelope.get("type") == type_ and all(
                    data.get(k) == v for k, v in match.items()):
                found = entry
        return found

    # --- the parts ---

    def correction(self, case_id: str, liability_id: str) -> EntryRecorded | None:
        """The `liability.corrected` entry of a liability, if it was corrected."""
        found = self._latest(self.case_entries(case_id), "liability.corrected",
                             liability_id=liability_id)
        return self._use(found) if found is not None else None

    def violation(self, case_id: str, violation_id: str) -> tuple[dict[str, Any] | None, ...]:
        """(violation, policy, operation) records of a violation, each with its position."""
        flagged = self._latest(self.case_entries(case_id), "violation.flagged",
                               violation_id=violation_id)
        if flagged is None:
            return (None, None, None)
        data = _data(self._use(flagged))
        violation = _pick(flagged, "violation_id", "employee_id", "policy_id",
                          "policy_version", "severity", "supervisor_id", "review_due",
                          "event_id", "reason")
        policy = self._policy(str(data.get("policy_id")), data.get("policy_version"))
        operation = self._operation(case_id, data, policy)
        return (violation, policy, operation)

    def _policy(self, policy_id: str, version: Any) -> dict[str, Any] | None:
        defined = self._latest(self.stream(f"policy:{policy_id}"), "ledger.policy.defined",
                               policy_id=policy_id, version=version)
        if defined is None:
            return None
        return _pick(self._use(defined), "policy_id", "version", "rule", "description",
                     "severity", "applies_to", "review_within")

    def _operation(self, case_id: str, violation: Mapping[str, Any],
                   policy: Mapping[str, Any] | None) -> dict[str, Any] | None:
        ref = violation.get("event_ref") or violation.get("event_id")
        for entry in self.case_entries(case_id):
            if ref in (entry.event_id, f"{entry.source}#{entry.event_id}"):
                payload = _data(entry).get("payload")
                read: dict[str, Any] = {}
                missing: list[str] = []
                for path in rule_paths(str((policy or {}).get("rule") or "")):
                    value = lookup(payload, path)
                    if value is _MISSING:
                        missing.append(path)
                    else:
                        read[path] = value
                self._use(entry)
                return {"position": entry.position, "event_id": entry.event_id,
                        "values_read": read, "missing_fields": missing}
        return None

    def escalations(self, case_id: str, violation_id: str | None,
                    step: str | None) -> list[dict[str, Any]]:
        out = []
        for entry in self.case_entries(case_id):
            if entry.envelope.get("type") != "obligation.escalated":
                continue
            data = _data(entry)
            if (violation_id and data.get("violation_id") == violation_id) or (
                    step and data.get("obligation") == "step" and data.get("step") == step):
                out.append(_pick(self._use(entry), "obligation", "violation_id", "step",
                                 "from_id", "to_id", "review_due", "due"))
        return out

    def deadline(self, case_id: str, violation_id: str | None,
                 step: str | None) -> dict[str, Any] | None:
        for entry in reversed(self.case_entries(case_id)):
            data = _data(entry)
            if entry.envelope.get("type") != "deadline.missed":
                continue
            if (violation_id and data.get("violation_id") == violation_id) or (
                    step and not violation_id and data.get("step") == step):
                return _pick(self._use(entry), "obligation", "due", "step", "violation_id",
                             "owner_id", "unit_id")
        return None

    def step(self, case_id: str, step: str) -> dict[str, Any] | None:
        opened = self._latest(self.case_entries(case_id), "ledger.case.opened")
        data = _data(opened) if opened else {}
        process_id = data.get("process_id")
        if not process_id:
            return None
        version = data.get("process_version")
        found = None
        for entry in self.stream(f"process:{process_id}"):
            if version is None or _data(entry).get("version") == version:
                found = entry
        if found is None:
            return None
        for definition in _data(found).get("steps") or []:
            if isinstance(definition, Mapping) and definition.get("step") == step:
                self._use(found)
                record = {"position": found.position, "step": step}
                for name in ("title", "output_standard", "required_outputs", "due"):
                    if name in definition:
                        record[name] = definition[name]
                return record
        return None

    def appeals(self, case_id: str, liability_id: str) -> tuple[str, list[dict[str, Any]]]:
        """The appeal status and every appeal and decision on the liability."""
        history = [_pick(self._use(e), "liability_id", "actor_id", "reason", "decision")
                   | {"type": e.envelope.get("type"), "at": e.envelope.get("time")}
                   for e in self.stream(f"liability:{liability_id}")
                   if e.envelope.get("type") in ("ledger.liability.appealed",
                                                 "ledger.appeal.decided")]
        judged = self._latest(self.case_entries(case_id), "appeal.judged",
                              liability_id=liability_id)
        if judged is not None:
            self._use(judged)
            return str(_data(judged).get("status") or "not_appealed"), history
        return ("appealed" if history else "not_appealed"), history

    # --- the whole explanation ---

    def explain(self, liability: Mapping[str, Any]) -> dict[str, Any]:
        case_id = str(liability.get("case_id"))
        violation_id, step = liability.get("violation_id"), liability.get("step")
        out: dict[str, Any] = {}
        violation = policy = operation = None
        if violation_id:
            violation, policy, operation = self.violation(case_id, str(violation_id))
        if violation is not None:
            out["violation"] = violation
            out["review_due"] = violation.get("review_due")
            out["severity"] = violation.get("severity")
            if liability.get("kind") == "supervisor":
                out["subordinate_id"] = violation.get("employee_id")
        if policy is not None:
            out["policy"] = policy
        if operation is not None:
            out["operation"] = operation
        reason = str((violation or {}).get("reason") or "")
        if violation is not None:
            missing = (operation or {}).get("missing_fields") or []
            not_evaluable = "could not be evaluated" in reason
            out["outcome"] = "not_evaluable" if not_evaluable else "violated"
            if not_evaluable:
                out["missing_field"] = ", ".join(missing) or _missing_from(reason)
        if step:
            definition = self.step(case_id, str(step))
            if definition is not None:
                out["step"] = definition
        escalations = self.escalations(case_id, violation_id, step)
        if escalations:
            out["escalations"] = escalations
        deadline = self.deadline(case_id, violation_id, step)
        if deadline is not None:
            out["deadline"] = deadline
        out["severity"] = out.get("severity") or liability.get("severity")
        status, history = self.appeals(case_id, str(liability.get("liability_id")))
        out["appeal_status"] = status
        if history:
            out["appeals"] = history
        out["why"] = self.why(liability, out)
        return out

    def why(self, liability: Mapping[str, Any], part: Mapping[str, Any]) -> str:
        """The explanation as one sentence in the document's language."""
        lang = self.lang
        sentences = [f"{label('kind', liability.get('kind'), lang)} · "
                     f"{label('basis', liability.get('basis'), lang)}"]
        policy = part.get("policy") or {}
        violation = part.get("violation") or {}
        operation = part.get("operation") or {}
        if violation:
            fields = dict(policy=violation.get("policy_id"),
                          version=violation.get("policy_version"),
                          rule=policy.get("rule", "?"),
                          employee=self.person(violation.get("employee_id")))
            if part.get("outcome") == "not_evaluable":
                sentences.append(word("why.not_evaluable", lang, field=part.get("missing_field"),
                                      **fields))
            else:
                values = ", ".join(f"{k} = {_show(v)}"
                                   for k, v in (operation.get("values_read") or {}).items())
                sentences.append(word("why.violated", lang, values=values or "—", **fields))
            if policy.get("description"):
                sentences.append(str(policy["description"]))
        if part.get("subordinate_id"):
            sentences.append(word("why.supervisor", lang,
                                  subordinate=self.person(part["subordinate_id"]),
                                  due=part.get("review_due")))
        step = part.get("step")
        if step:
            sentences.append(word("why.step", lang, step=step.get("step"),
                                  title=step.get("title", "—"),
                                  due=(part.get("deadline") or {}).get("due", "—")))
        for climb in part.get("escalations") or []:
            sentences.append(word("why.escalated", lang, from_=self.person(climb.get("from_id")),
                                  to=self.person(climb.get("to_id")),
                                  due=climb.get("review_due") or climb.get("due")))
        return "；".join(sentences) if lang == "zh" else "; ".join(sentences)

    def person(self, employee_id: Any) -> str:
        """An employee by name, the id in parentheses; the id alone when unnamed."""
        name = self.names.get(str(employee_id)) if employee_id else None
        if not name or name == employee_id:
            return str(employee_id)
        return f"{name}（{employee_id}）" if self.lang == "zh" else f"{name} ({employee_id})"


def _missing_from(reason: str) -> str:
    match = re.search(r"no field (\S+)", reason)
    return match.group(1).strip("'\"") if match else ""


def _show(value: Any) -> str:
    return str(value) if not isinstance(value, bool) else str(value).lower()
