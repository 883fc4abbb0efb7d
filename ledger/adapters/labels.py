"""The one message catalog of the exports: every code a document shows, in Chinese and English.

Renderers (ledger/adapters/rendering.py) and the documents (projections/) look every kind,
basis, status, duty, severity, obligation, role, event type, column and heading up here,
so a file never mixes languages. Chinese is the default; the wording follows the console's
(api/console/js/i18n.js). A code with no label falls back to the code itself, never to the
other language.
"""

from __future__ import annotations

from collections.abc import Mapping

Lang = str  # "zh" | "en"
LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

#: (group, code) -> (Chinese, English)
_CATALOG: dict[tuple[str, str], tuple[str, str]] = {
    ("kind", "direct"): ("直接责任", "direct"),
    ("kind", "supervisor"): ("连带责任", "supervisor"),
    ("kind", "cooperating"): ("配合责任", "cooperating"),
    ("basis", "violated_policy"): ("违反制度", "violated policy"),
    ("basis", "approved_violation"): ("批准违规操作", "approved a violation"),
    ("basis", "review_missed"): ("主管未履职", "review missed"),
    ("basis", "missed_deadline"): ("逾期未完成", "missed deadline"),
    ("basis", "passed_defect"): ("放行缺陷", "passed a defect"),
    ("basis", "overrode_control"): ("越权推翻管控", "overrode a control"),
    ("basis", "missed_contribution"): ("未按时配合", "missed contribution"),
    ("basis", "escalation_ignored"): ("升级后未处理", "escalation ignored"),
    ("basis", "acted_without_permission"): ("无权限操作", "acted without permission"),
    ("status", "active"): ("有效", "in force"),
    ("status", "corrected"): ("已更正", "corrected"),
    ("status", "open"): ("待复核", "open"),
    ("status", "reviewed"): ("已复核", "reviewed"),
    ("status", "approved"): ("已批准", "approved"),
    ("status", "missed"): ("已逾期", "missed"),
    ("status", "escalated"): ("已升级", "escalated"),
    ("appeal", "not_appealed"): ("未申诉", "not appealed"),
    ("appeal", "appealed"): ("申诉中", "under appeal"),
    ("appeal", "upheld"): ("申诉驳回", "appeal rejected"),
    ("appeal", "overturned"): ("申诉成立", "appeal overturned"),
    ("score", "counted"): ("计分", "counted"),
    ("score", "corrected"): ("已更正，不计分", "corrected, not counted"),
    ("score", "overturned"): ("申诉成立，不计分", "appeal overturned, not counted"),
    ("score", "no_scheme"): ("无适用方案，不计分", "no scheme in force, not counted"),
    ("duty", "step_on_time"): ("按时完成步骤", "step completed on time"),
    ("duty", "review_done"): ("按时完成复核", "review done in time"),
    ("severity", "minor"): ("轻微", "minor"),
    ("severity", "major"): ("严重", "major"),
    ("severity", "critical"): ("特别严重", "critical"),
    ("obligation", "step"): ("步骤", "step"),
    ("obligation", "review"): ("复核", "review"),
    ("obligation", "contribution"): ("配合", "contribution"),
    ("outcome", "violated"): ("规则不成立（违规）", "rule does not hold (violation)"),
    ("outcome", "not_evaluable"): ("规则无法判定（数据缺失）",
                                   "rule could not be evaluated (data missing)"),
    ("role", "auditor"): ("审计", "auditor"),
    ("role", "hr"): ("人事", "HR"),
    ("role", "manager"): ("主管", "manager"),
    ("role", "admin"): ("管理员", "admin"),
    ("role", "publisher"): ("发布方", "publisher"),
    ("flag", "violation"): ("违规", "violation"),
    ("flag", "review_missed"): ("未复核", "review missed"),
    ("flag", "approved_violation"): ("批准违规", "approved violation"),
    ("flag", "missed_deadline"): ("错过截止", "missed deadline"),
    ("flag", "failed_inspection"): ("检验不合格", "failed inspection"),
    ("flag", "missed_inspection"): ("漏检", "missed inspection"),
    ("flag", "defect"): ("缺陷", "defect"),
    ("flag", "passed_defect"): ("放行缺陷", "passed defect"),
    ("flag", "override"): ("推翻决定", "override"),
    ("flag", "missed_contribution"): ("未按时配合", "missed contribution"),
    ("flag", "acted_without_permission"): ("无权限操作", "acted without permission"),
    ("flag", "escalation_ignored"): ("升级后未处理", "escalation ignored"),
    ("type", "ledger.case.opened"): ("立案", "case opened"),
    ("type", "ledger.case.closed"): ("结案", "case closed"),
    ("type", "ledger.step.started"): ("步骤开始", "step started"),
    ("type", "ledger.step.completed"): ("步骤完成", "step completed"),
    ("type", "ledger.step.contributed"): ("记录配合", "contribution recorded"),
    ("type", "ledger.operation.submitted"): ("提交操作", "operation submitted"),
    ("type", "ledger.operation.approved"): ("批准操作", "operation approved"),
    ("type", "ledger.operation.rejected"): ("驳回操作", "operation rejected"),
    ("type", "ledger.inspection.recorded"): ("记录检验", "inspection recorded"),
    ("type", "ledger.incident.reported"): ("报告事故", "incident reported"),
    ("type", "ledger.decision.overridden"): ("推翻决定", "decision overridden"),
    ("type", "ledger.violation.reviewed"): ("复核违规", "violation reviewed"),
    ("type", "ledger.liability.appealed"): ("提出申诉", "liability appealed"),
    ("type", "ledger.appeal.decided"): ("申诉裁决", "appeal decided"),
    ("type", "ledger.policy.defined"): ("制度定义", "policy defined"),
    ("type", "ledger.process.defined"): ("流程定义", "process defined"),
    ("type", "violation.flagged"): ("违规认定", "violation flagged"),
    ("type", "deadline.missed"): ("错过期限", "deadline missed"),
    ("type", "obligation.escalated"): ("义务升级", "obligation escalated"),
    ("type", "liability.assigned"): ("责任认定", "liability assigned"),
    ("type", "liability.corrected"): ("责任更正", "liability corrected"),
    ("type", "duty.fulfilled"): ("履职记录", "duty fulfilled"),
    ("type", "obligation.opened"): ("义务开始", "obligation opened"),
    ("type", "obligation.due_soon"): ("义务即将到期", "obligation due soon"),
    ("type", "obligation.done"): ("义务完成", "obligation done"),
    ("type", "appeal.judged"): ("申诉结果", "appeal judged"),
    ("record", "liability"): ("责任", "liability"),
    ("record", "positive"): ("正面记录", "positive record"),
    ("bool", "true"): ("是", "yes"),
    ("bool", "false"): ("否", "no"),
}

#: Words of the documents: titles, headings, columns, summary lines.
_WORDS: dict[str, tuple[str, str]] = {
    "title.evidence": ("员工责任证据", "Employee evidence"),
    "title.units": ("部门报告", "Unit report"),
    "title.report": ("责任追溯报告", "Responsibility trace report"),
    "title.combined": ("员工证据汇总", "Evidence of several employees"),
    "title.scores": ("考核积分", "Scores for appraisal"),
    "sheet.score_items": ("计分明细", "Scored records"),
    "sum.schemes": ("积分方案", "Scoring schemes"),
    "col.points": ("分值", "Points"),
    "col.penalty": ("扣分", "Penalty"),
    "col.bonus": ("加分", "Bonus"),
    "col.total": ("合计", "Total"),
    "col.members": ("人数", "Members"),
    "col.scheme": ("方案及版本", "Scheme and version"),
    "sheet.summary": ("概要", "Summary"),
    "sheet.liabilities": ("责任", "Liabilities"),
    "sheet.positive": ("正面记录", "Positive records"),
    "sheet.events": ("账本事件", "Ledger events"),
    "sheet.units": ("部门", "Units"),
    "sheet.employees": ("员工", "Employees"),
    "sheet.chain": ("责任链", "Chain"),
    "sheet.violations": ("违规", "Violations"),
    "sheet.deadlines": ("错过期限", "Missed deadlines"),
    "sheet.escalations": ("升级路径", "Escalations"),
    "sheet.corrections": ("更正", "Corrections"),
    "sheet.appeals": ("申诉", "Appeals"),
    "sum.employee": ("员工", "Employee"),
    "sum.unit": ("部门", "Unit"),
    "sum.tenant": ("租户", "Tenant"),
    "sum.case": ("案件", "Case"),
    "sum.period": ("期间", "Period"),
    "sum.liabilities": ("责任", "Liabilities"),
    "sum.liabilities_count": ("有效 {active} 项，已更正 {corrected} 项",
                              "{active} in force, {corrected} corrected"),
    "sum.positive": ("正面记录", "Positive records"),
    "sum.events": ("账本事件", "Ledger events"),
    "sum.checkpoint": ("签名检查点", "Signed checkpoint"),
    "sum.checkpoint_line": ("第 {sequence} 号，共 {tree_size} 条，根哈希 {root}，密钥 {key}",
                            "#{sequence}, {tree_size} entries, root {root}, key {key}"),
    "sum.unsigned": ("无（未签名，不含证明）", "none (unsigned, no proofs)"),
    "sum.position": ("账本位置", "Ledger position"),
    "sum.generated": ("生成时间", "Generated"),
    "sum.employees": ("员工数", "Employees"),
    "sum.source": ("责任源头", "Responsibility source"),
    "sum.none": ("无", "none"),
    "page": ("第 {page} 页 / 共 {pages} 页", "Page {page} of {pages}"),
    "chart.ranking": ("部门排名：完成率与逾期步骤",
                      "Unit ranking: completion rate and overdue steps"),
    "chart.completion": ("完成率（%）", "Completion rate (%)"),
    "chart.overdue": ("逾期步骤", "Overdue steps"),
    "col.record": ("记录", "Record"),
    "col.employee_id": ("员工编号", "Employee id"),
    "col.employee": ("员工", "Employee"),
    "col.name": ("姓名", "Name"),
    "col.unit": ("部门", "Unit"),
    "col.liability_id": ("责任编号", "Liability id"),
    "col.kind": ("责任类型", "Kind"),
    "col.basis": ("认定依据", "Basis"),
    "col.case_id": ("案件", "Case"),
    "col.at": ("时间", "Time"),
    "col.status": ("状态", "Status"),
    "col.why": ("认定理由", "Why"),
    "col.policy": ("制度及版本", "Policy and version"),
    "col.rule": ("规则", "Rule"),
    "col.description": ("规则说明", "Rule description"),
    "col.outcome": ("判定结果", "Outcome"),
    "col.values_read": ("规则读取的值", "Values the rule read"),
    "col.missing_field": ("缺失字段", "Missing field"),
    "col.subordinate": ("下属", "Subordinate"),
    "col.review_due": ("复核期限", "Review due"),
    "col.escalation": ("升级路径", "Escalation path"),
    "col.step": ("步骤", "Step"),
    "col.step_title": ("步骤名称", "Step title"),
    "col.output_standard": ("输出标准", "Output standard"),
    "col.severity": ("严重程度", "Severity"),
    "col.appeal": ("申诉状态", "Appeal status"),
    "col.corrected_reason": ("更正原因", "Correction reason"),
    "col.replaced_by": ("替代责任", "Replaced by"),
    "col.event_ids": ("相关事件", "Events behind it"),
    "col.position": ("账本位置", "Ledger position"),
    "col.duty": ("履职", "Duty"),
    "col.violation_id": ("违规编号", "Violation id"),
    "col.event_id": ("事件编号", "Event id"),
    "col.source": ("来源", "Source"),
    "col.type": ("事件类型", "Event type"),
    "col.time": ("业务时间", "Business time"),
    "col.entry_hash": ("条目哈希", "Entry hash"),
    "col.rank": ("排名", "Rank"),
    "col.unit_id": ("部门编号", "Unit id"),
    "col.steps_due": ("应完成步骤", "Steps due"),
    "col.steps_on_time": ("按时", "On time"),
    "col.steps_overdue": ("逾期", "Overdue"),
    "col.completion_rate": ("完成率", "Completion rate"),
    "col.violations": ("违规", "Violations"),
    "col.liabilities": ("责任", "Liabilities"),
    "col.corrected": ("已更正", "Corrected"),
    "col.positive_records": ("正面记录", "Positive records"),
    "col.events": ("账本事件", "Ledger events"),
    "col.actor": ("操作人", "Actor"),
    "col.expected_lead": ("应负责人", "Expected lead"),
    "col.due": ("期限", "Due"),
    "col.on_time": ("按时", "On time"),
    "col.flags": ("标记", "Flags"),
    "col.obligation": ("义务", "Obligation"),
    "col.owner": ("责任人", "Owner"),
    "col.from": ("原负责人", "From"),
    "col.to": ("升级至", "To"),
    "col.supervisor": ("复核主管", "Reviewing supervisor"),
    "col.reason": ("原因", "Reason"),
    "col.decision": ("裁决", "Decision"),
    "why.violated": ("{employee} 的操作违反制度 {policy} 第 {version} 版：规则 {rule} 不成立，"
                     "读取的值 {values}",
                     "{employee}'s operation broke policy {policy} v{version}: rule {rule} "
                     "does not hold for {values}"),
    "why.not_evaluable": ("制度 {policy} 第 {version} 版的规则 {rule} 无法判定：缺少字段 "
                          "{field}（数据缺失，不是违规判定）",
                          "policy {policy} v{version}: rule {rule} could not be evaluated, field "
                          "{field} is missing (a data gap, not a judged breach)"),
    "why.supervisor": ("下属 {subordinate} 的违规，复核期限 {due}", "the violation of subordinate "
                       "{subordinate}, review due {due}"),
    "why.step": ("步骤 {step}（{title}）期限 {due}", "step {step} ({title}) due {due}"),
    "why.escalated": ("升级：{from_} → {to}，期限 {due}", "escalated: {from_} → {to}, due {due}"),
}


def pick_lang(lang: str | None, accept_language: str | None = None) -> Lang:
    """`lang` if given (zh or en), else the first of Accept-Language we speak, else zh."""
    for candidate in [lang] if lang else _accepted(accept_language):
        primary = candidate.strip().lower().split("-")[0].split("_")[0]
        if primary in LANGS:
            return primary
    return DEFAULT_LANG


def _accepted(header: str | None) -> list[str]:
    """Accept-Language's tags, most preferred first (q=0 tags dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def label(group: str, code: object, lang: Lang = DEFAULT_LANG) -> str:
    """The label of `code` in `group` (kind, basis, status, ...); the code when unknown."""
    if code is None or code == "":
        return ""
    key = str(code).lower() if isinstance(code, bool) else str(code)
    pair = _CATALOG.get((group, key))
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]


def word(entry: str, lang: Lang = DEFAULT_LANG, /, **values: object) -> str:
    """A title, heading, column or sentence of the documents, filled with `values`."""
    zh, en = _WORDS[entry]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def codes(group: str) -> list[str]:
    """Every code the catalog labels in `group` (for tests that every code is covered)."""
    return sorted(code for g, code in _CATALOG if g == group)


def catalog_groups() -> Mapping[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, code in _CATALOG:
        groups.setdefault(group, []).append(code)
    return groups
