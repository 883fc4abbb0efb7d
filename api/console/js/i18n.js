// Every label of the console, in English and Chinese. Data (names, ids, reasons written by
// the ledger) is shown as recorded; only the console's own words are translated here.
// Chinese unless the browser asks for English first (or the user chose a language).

import { WORK_LABELS } from "./labels-work.js";

const BASE_LABELS = {
  en: {
    "app.title": "Accountability ledger",
    "app.subtitle": "Auditor & HR console",
    "nav.case": "Case",
    "nav.evidence": "Employee evidence",
    "nav.units": "Unit report",
    "nav.signout": "Sign out",
    "nav.main": "Main",
    "nav.skip": "Skip to content",
    "lang.switch": "中文",
    "lang.switch.label": "切换到中文",
    "signedin.as": "Tenant",
    "loading": "Loading…",
    "none": "—",
    "yes": "yes",
    "no": "no",

    "signin.title": "Sign in",
    "signin.intro": "Paste an API token (from `ledger token create`). Its tenant and role decide what you see. It is kept in this browser tab only and sent with every request.",
    "signin.token": "API token",
    "signedin.role": "Role",
    "signin.submit": "Sign in",
    "signin.bad": "The token was rejected (unknown, revoked or malformed).",
    "signin.required": "Paste a token first.",

    "error.http": "The ledger answered {status}: {detail}",
    "error.network": "The ledger could not be reached: {detail}",
    "error.unauthorized": "Your token is no longer accepted; sign in again.",
    "error.forbidden": "Your role may not read this.",

    "case.title": "Case",
    "case.find": "Find a case",
    "case.id": "Case id",
    "case.open": "Open",
    "case.notfound": "No case {id} in this tenant.",
    "case.chain": "Responsibility chain",
    "case.chain.count": "{n} links in business-time order",
    "case.source": "Responsibility source",
    "case.source.none": "No link failed: this case has no responsibility source.",
    "case.source.badge": "source",
    "case.liabilities": "Liabilities",
    "case.liabilities.none": "No liabilities on this case.",

    "field.event": "Event",
    "field.employee": "Employee",
    "field.unit": "Unit",
    "field.reason": "Reason",
    "field.at": "Business time",
    "field.type": "Type",
    "field.step": "Step",
    "field.actor": "Actor",
    "field.expected_lead": "Expected lead",
    "field.due": "Due",
    "field.on_time": "On time",
    "field.flags": "Flags",
    "field.kind": "Kind",
    "field.basis": "Basis",
    "field.case": "Case",
    "field.status": "Status",
    "field.events": "Ledger events",
    "field.duty": "Duty",
    "field.violation": "Violation",

    "ontime.true": "on time",
    "ontime.false": "late",

    "status.in_force": "in force",
    "status.corrected": "corrected",
    "status.corrected.reason": "Corrected: {reason}",
    "status.replaced_by": "replaced by {id}",

    "evidence.title": "Employee evidence",
    "evidence.pick": "Employee and period",
    "evidence.employee": "Employee",
    "evidence.from": "From",
    "evidence.to": "To",
    "evidence.show": "Show evidence",
    "evidence.summary": "Liabilities in force: {liabilities} · corrected: {corrected} · duties fulfilled: {positive}",
    "evidence.liabilities": "Liabilities",
    "evidence.liabilities.none": "No liabilities in this period.",
    "evidence.positive": "Positive records (duties fulfilled)",
    "evidence.positive.none": "No positive records in this period.",
    "evidence.export": "Export",
    "evidence.export.hint": "Downloads the evidence for this employee and period, with the ledger events behind it and their proofs.",
    "evidence.export.button": "Download {format}",
    "evidence.export.done": "Saved {file} ({size}).",
    "evidence.choose": "Choose an employee.",

    "units.title": "Unit report",
    "units.period": "Period",
    "units.bucket": "Trend by",
    "units.bucket.day": "day",
    "units.bucket.week": "week",
    "units.bucket.month": "month",
    "units.show": "Show report",
    "units.ranking": "Ranking",
    "units.ranking.chart": "Completion rate per unit",
    "units.ranking.chart.desc": "Horizontal bars: share of steps due that were completed on time, by unit, best first.",
    "units.trend": "Overdue trend",
    "units.trend.chart": "Overdue steps per {bucket}",
    "units.trend.chart.desc": "Bars: steps that went overdue in each period, all units together.",
    "units.trend.coarser": "Too many periods for {bucket}s; shown by {coarser}.",
    "units.none": "No unit activity in this period.",
    "units.nodue": "nothing due",
    "col.rank": "Rank",
    "col.unit": "Unit",
    "col.steps_due": "Steps due",
    "col.steps_on_time": "On time",
    "col.steps_overdue": "Overdue",
    "col.violations": "Violations",
    "col.liabilities": "Liabilities",
    "col.completion_rate": "Completion rate",

    "kind.direct": "direct",
    "kind.supervisor": "supervisor",

    "basis.violated_policy": "violated policy",
    "basis.approved_violation": "approved a violation",
    "basis.review_missed": "review missed",
    "basis.missed_deadline": "missed deadline",
    "basis.passed_defect": "passed a defect",
    "basis.overrode_control": "overrode a control",

    "flag.violation": "violation",
    "flag.review_missed": "review missed",
    "flag.approved_violation": "approved violation",
    "flag.missed_deadline": "missed deadline",
    "flag.failed_inspection": "failed inspection",
    "flag.missed_inspection": "missed inspection",
    "flag.defect": "defect",
    "flag.passed_defect": "passed defect",
    "flag.override": "override",

    "duty.step_on_time": "step completed on time",
    "duty.review_done": "review done in time",

    "type.ledger.case.opened": "case opened",
    "type.ledger.case.closed": "case closed",
    "type.ledger.step.started": "step started",
    "type.ledger.step.completed": "step completed",
    "type.ledger.operation.submitted": "operation submitted",
    "type.ledger.operation.approved": "operation approved",
    "type.ledger.operation.rejected": "operation rejected",
    "type.ledger.inspection.recorded": "inspection recorded",
    "type.ledger.decision.overridden": "decision overridden",
    "type.ledger.violation.reviewed": "violation reviewed",
    "type.ledger.incident.reported": "incident reported",
    "type.deadline.missed": "deadline missed",
  },
  zh: {
    "app.title": "问责账本",
    "app.subtitle": "审计与人事控制台",
    "nav.case": "案件",
    "nav.evidence": "员工证据",
    "nav.units": "部门报表",
    "nav.signout": "退出",
    "nav.main": "主导航",
    "nav.skip": "跳到正文",
    "lang.switch": "EN",
    "lang.switch.label": "Switch to English",
    "signedin.as": "租户",
    "loading": "加载中…",
    "none": "—",
    "yes": "是",
    "no": "否",

    "signin.title": "登录",
    "signin.intro": "粘贴 API 令牌（由 `ledger token create` 生成）。令牌的租户和角色决定您能看到的内容。令牌只保存在本浏览器标签页中，并随每个请求发送。",
    "signin.token": "API 令牌",
    "signedin.role": "角色",
    "signin.submit": "登录",
    "signin.bad": "令牌被拒绝（未知、已吊销或格式错误）。",
    "signin.required": "请先粘贴令牌。",

    "error.http": "账本返回 {status}：{detail}",
    "error.network": "无法连接账本：{detail}",
    "error.unauthorized": "令牌已失效，请重新登录。",
    "error.forbidden": "您的角色无权读取此内容。",

    "case.title": "案件",
    "case.find": "查找案件",
    "case.id": "案件编号",
    "case.open": "打开",
    "case.notfound": "本租户没有案件 {id}。",
    "case.chain": "责任链",
    "case.chain.count": "按业务时间排列的 {n} 个环节",
    "case.source": "责任源头",
    "case.source.none": "没有失败的环节：本案件没有责任源头。",
    "case.source.badge": "源头",
    "case.liabilities": "责任认定",
    "case.liabilities.none": "本案件没有责任认定。",

    "field.event": "事件",
    "field.employee": "员工",
    "field.unit": "部门",
    "field.reason": "原因",
    "field.at": "业务时间",
    "field.type": "类型",
    "field.step": "步骤",
    "field.actor": "操作人",
    "field.expected_lead": "应负责人",
    "field.due": "截止",
    "field.on_time": "是否按时",
    "field.flags": "标记",
    "field.kind": "责任类型",
    "field.basis": "依据",
    "field.case": "案件",
    "field.status": "状态",
    "field.events": "账本事件",
    "field.duty": "履职",
    "field.violation": "违规",

    "ontime.true": "按时",
    "ontime.false": "未按时",

    "status.in_force": "有效",
    "status.corrected": "已更正",
    "status.corrected.reason": "已更正：{reason}",
    "status.replaced_by": "由 {id} 取代",

    "evidence.title": "员工证据",
    "evidence.pick": "员工与期间",
    "evidence.employee": "员工",
    "evidence.from": "起始",
    "evidence.to": "截止",
    "evidence.show": "查看证据",
    "evidence.summary": "有效责任 {liabilities} 项，已更正 {corrected} 项，履职记录 {positive} 项",
    "evidence.liabilities": "责任认定",
    "evidence.liabilities.none": "本期间没有责任认定。",
    "evidence.positive": "正面记录（已履职）",
    "evidence.positive.none": "本期间没有正面记录。",
    "evidence.export": "导出",
    "evidence.export.hint": "下载该员工在此期间的证据，附带其背后的账本事件及证明。",
    "evidence.export.button": "下载 {format}",
    "evidence.export.done": "已保存 {file}（{size}）。",
    "evidence.choose": "请选择员工。",

    "units.title": "部门报表",
    "units.period": "期间",
    "units.bucket": "趋势粒度",
    "units.bucket.day": "日",
    "units.bucket.week": "周",
    "units.bucket.month": "月",
    "units.show": "查看报表",
    "units.ranking": "排名",
    "units.ranking.chart": "各部门完成率",
    "units.ranking.chart.desc": "横向条形图：各部门按时完成的步骤占应完成步骤的比例，由高到低。",
    "units.trend": "逾期趋势",
    "units.trend.chart": "每{bucket}逾期步骤数",
    "units.trend.chart.desc": "柱状图：每个时段内逾期的步骤数（全部部门合计）。",
    "units.trend.coarser": "按{bucket}统计的时段过多，已改为按{coarser}显示。",
    "units.none": "本期间没有部门活动。",
    "units.nodue": "无到期步骤",
    "col.rank": "名次",
    "col.unit": "部门",
    "col.steps_due": "应完成步骤",
    "col.steps_on_time": "按时",
    "col.steps_overdue": "逾期",
    "col.violations": "违规",
    "col.liabilities": "责任",
    "col.completion_rate": "完成率",

    "kind.direct": "直接责任",
    "kind.supervisor": "连带责任",

    "basis.violated_policy": "违反制度",
    "basis.approved_violation": "批准违规操作",
    "basis.review_missed": "主管未履职",
    "basis.missed_deadline": "逾期未完成",
    "basis.passed_defect": "放行缺陷",
    "basis.overrode_control": "越权推翻管控",

    "flag.violation": "违规",
    "flag.review_missed": "未复核",
    "flag.approved_violation": "批准违规",
    "flag.missed_deadline": "错过截止",
    "flag.failed_inspection": "检验不合格",
    "flag.missed_inspection": "漏检",
    "flag.defect": "缺陷",
    "flag.passed_defect": "放行缺陷",
    "flag.override": "推翻决定",

    "duty.step_on_time": "按时完成步骤",
    "duty.review_done": "按时完成复核",

    "type.ledger.case.opened": "立案",
    "type.ledger.case.closed": "结案",
    "type.ledger.step.started": "步骤开始",
    "type.ledger.step.completed": "步骤完成",
    "type.ledger.operation.submitted": "提交操作",
    "type.ledger.operation.approved": "批准操作",
    "type.ledger.operation.rejected": "驳回操作",
    "type.ledger.inspection.recorded": "记录检验",
    "type.ledger.decision.overridden": "推翻决定",
    "type.ledger.violation.reviewed": "复核违规",
    "type.ledger.incident.reported": "报告事故",
    "type.deadline.missed": "错过截止",
  },
};

export const LABELS = {
  en: { ...BASE_LABELS.en, ...WORK_LABELS.en },
  zh: { ...BASE_LABELS.zh, ...WORK_LABELS.zh },
};

const STORAGE_KEY = "ledger.console.lang";
let current = initialLanguage();

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh") return saved;
  const asked = (navigator.languages && navigator.languages[0]) || navigator.language || "";
  return asked.toLowerCase().startsWith("en") ? "en" : "zh";
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = lang === "zh" ? "zh" : "en";
  localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

/** The label `key` in the current language, `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = LABELS[current][key] ?? LABELS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** The language as the API's `lang` parameter takes it. */
export function apiLanguage() {
  return current === "zh" ? "zh" : "en";
}

/** A label for a value of a known vocabulary (`basis`, `flag`, ...); the raw value otherwise. */
export function term(group, value) {
  if (value === null || value === undefined || value === "") return t("none");
  const key = `${group}.${value}`;
  return key in LABELS[current] || key in LABELS.en ? t(key) : String(value);
}

setLanguage(current);
