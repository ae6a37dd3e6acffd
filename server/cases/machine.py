"""The case state machine: which command each kind may take in each state, and where it leads.

A pure module (no database, no I/O) and the single source of truth for a case's path: the
actions ask `next_state` before they append an event, the fold replays events through it, the
pages draw their buttons from `allowed`, and the deadline code reads each transition's `clock`
to fold events into running time and paused days.

  Intake (every kind)

    draft --submit--> submitted --accept | accept_with_gaps--> accepted
                       |  ^   |                               (joint: joint_in_progress)
                       |  |   `--refuse--> refused
        notify_missing |  | supplement
                       v  |
                   awaiting_materials --refuse--> refused   (only if it paused at intake)

  Work, by kind

    immediate  accepted --decide--> decided
    promised   accepted --start_review--> in_review --decide--> decided
    joint      joint_in_progress (task_done, once per co-department's task)
                 --decide [no open task]--> decided
    relayed    accepted --start_review--> in_review --mark_ready--> ready_to_relay
                 --relay [owner: county]--> relayed
                 --county_decide [owner: township]--> decided

  After the decision (every kind)

    decided --deliver--> delivered --rate--> rated

  Pauses after acceptance (promised, joint, relayed), which stop the clock

    in_review | joint_in_progress | relayed
      --notify_missing--> awaiting_materials --supplement--> back
      --suspend--> suspended --resume--> back

  withdraw: from every open state, submitted to suspended --> withdrawn
  No change of state: extend (while the clock runs), close_gap, task_done,
    attach (every state a case of the kind reaches after intake, closed ones included)

"back" is the state the case paused from; the fold keeps it in `CaseFacts.paused_from`.
Guards, checked when the facts are given: only the owner node moves a case; no decision,
first-review completion or relay while a 容缺 gap is open; a joint case is decided only when
every task is done; a case that paused after acceptance cannot be refused at intake.

Rules and where they come from:

- Acceptance, the one-time notice and refusal at intake, each with a paper: 《宁陕县“互联网+政务
  服务”实施方案》附件2《镇便民服务中心建设标准》二(五)2;
  《庄河市…进一步提升行政服务窗口工作水平和服务质量意见》 (补充件: "待资料补齐后正式受理",
  so a supplement at intake leads back to `submitted`, and acceptance is a step of its own).
- The four kinds (四件管理制度): 《镇便民服务中心建设标准》二(五)3. Immediate cases are decided
  by the window itself, at once ("即收即办"); promised cases are those that need site visits,
  tests, collective discussion, expert review or hearings (the special procedures that suspend
  the clock); joint cases have one lead window; relayed cases are decided by the county, the
  township relays them within the promised limit. 《莆田市…“一窗受理、集成服务”实施细则（试行）》
  六(二)2 (immediate: result issued and delivered on the spot), 六(二)3 (joint: "一家牵头、统一
  受理、同步办件", so the co-departments' tasks start at acceptance and run in parallel),
  六(二)6 (relayed: handled like a promised case up to relaying).
- 容缺受理 and review-stage 补齐补正: 《莆田…实施细则》六(二)1. Only non-key materials may be
  missing, against a signed commitment; the reviewing window examines what it has and decides
  once the missing materials are in, so a decision is refused while a gap is open. The back
  office may ask for more materials after acceptance (补齐补正通知单), hence the pause.
- Extensions (延期) carry a reason told to the applicant; immediate cases are never extended
  ("即办件应即来即办，不得以任何借口拖延"): 《镇便民服务中心建设标准》二(六)3.
- Delivery at the window or by post and the rating after completion: 《镇便民服务中心建设标准》
  二(五)5, 二(五)6; EMS and the rating after signing: 《莆田…实施细则》六(二)1 五是.
- Only the node that owns a case moves it; relaying hands it to the county and the county's
  decision hands it back (DESIGN.md §4).

Decisions where the seeds are silent:

- Joint cases skip `accepted` and `in_review`: acceptance sends every co-department its task at
  once, so they land in `joint_in_progress` (联办中), where `task_done` counts tasks down.
  A task may also be finished while the case waits for materials or is suspended, since the
  other departments go on working.
- Immediate cases take no 容缺 and no pause or extension after acceptance: a gap forbids the
  decision and the case is decided in the same sitting.
- A relayed case has no decision at the township; its first review ends in `ready_to_relay`.
  It is relayed only when every 容缺 gap is closed, because the gap materials are brought to
  the township's window and the county must receive a complete file ("不得要求办事人员重复
  提交申报材料").
- The county may ask for materials or suspend a relayed case; being its owner, it also records
  the supplement, the resumption or a withdrawal while it holds the case.
- Extensions are granted only while the clock runs (accepted to relayed); a paused case needs none.
- A draft is not an application yet, so it cannot be withdrawn; a refusal is final and is
  handed over on the spot, so a refused case has no delivery; a case is rated at most once.
- A 容缺 commitment that lapses has no command of its own yet (the seed's "中止办理并予以退件"):
  such a case can only be withdrawn until a "terminate" command is added.
- `attach` (上传扫描件) links a scan of a material to the case: it changes no state and does
  not touch the clock, and like every event only the owner node records it, so a case's chain
  never forks. It is open in every state a case of the kind can reach after intake, the closed
  ones included: the paper the applicant signs after the last step belongs in the file too (the
  signed decision and the delivery receipt 送达回证 after `decided`/`delivered`, the receipt
  of a refusal notice after `refused`, a written withdrawal that came with `withdraw`), and a
  rating on the spot may come before the receipt is scanned, so `rated` keeps it as well.
  Adding a scan late backdates nothing: it is a new event with its own time and actor. Not in
  `draft`, which is not an application yet. Who may attach (window staff; a village agent on
  the cases they filed, while open) is for `commands_for`, not the table.

Clock: `start` at acceptance, `stop` on a one-time notice or a suspension, `resume` on the
supplement or the resumption, `end` on a decision, a refusal or a withdrawal. A stop, resume
or end before the clock has started (a one-time notice at intake) changes nothing. A relayed
case has one clock from acceptance to the county's decision; the relay deadline is a point on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

Kind = Literal["immediate", "promised", "joint", "relayed"]
State = Literal[
    "draft",
    "submitted",
    "awaiting_materials",
    "accepted",
    "in_review",
    "joint_in_progress",
    "ready_to_relay",
    "relayed",
    "suspended",
    "decided",
    "delivered",
    "rated",
    "refused",
    "withdrawn",
]
Command = Literal[
    "submit",
    "accept",
    "accept_with_gaps",
    "notify_missing",
    "refuse",
    "supplement",
    "start_review",
    "task_done",
    "mark_ready",
    "relay",
    "county_decide",
    "decide",
    "extend",
    "suspend",
    "resume",
    "close_gap",
    "withdraw",
    "deliver",
    "rate",
    "attach",
]
Clock = Literal["start", "stop", "resume", "none", "end"]
Node = Literal["township", "county"]
# Where a transition leads: a state, "same" (no change) or "back" (to the state it paused from).
Target = State | Literal["same", "back"]

KINDS: tuple[Kind, ...] = get_args(Kind)
STATES: tuple[State, ...] = get_args(State)
COMMANDS: tuple[Command, ...] = get_args(Command)

KIND_NAMES: dict[Kind, str] = {
    "immediate": "即办件",
    "promised": "承诺件",
    "joint": "联办件",
    "relayed": "上报件",
}
STATE_NAMES: dict[State, str] = {
    "draft": "草稿",
    "submitted": "已提交",
    "awaiting_materials": "待补正",
    "accepted": "已受理",
    "in_review": "审查中",
    "joint_in_progress": "联办中",
    "ready_to_relay": "待上报",
    "relayed": "已上报",
    "suspended": "已中止",
    "decided": "已办结",
    "delivered": "已送达",
    "rated": "已评价",
    "refused": "不予受理",
    "withdrawn": "已撤回",
}
COMMAND_NAMES: dict[Command, str] = {
    "submit": "提交",
    "accept": "受理",
    "accept_with_gaps": "容缺受理",
    "notify_missing": "一次性告知",
    "refuse": "不予受理",
    "supplement": "补正",
    "start_review": "开始审查",
    "task_done": "联办任务完成",
    "mark_ready": "完成初审",
    "relay": "上报",
    "county_decide": "县级决定",
    "decide": "办结（准予/不予）",
    "extend": "延期",
    "suspend": "中止",
    "resume": "恢复",
    "close_gap": "补齐容缺材料",
    "withdraw": "撤回",
    "deliver": "送达",
    "rate": "评价",
    "attach": "上传扫描件",
}
NODE_NAMES: dict[Node, str] = {"township": "乡镇便民服务中心", "county": "县政务服务中心"}

ALL = "*"  # every kind, in the table below

# States a case has left for good; a refusal there reads "不能再…".
CLOSED: frozenset[State] = frozenset({"decided", "delivered", "rated", "refused", "withdrawn"})


@dataclass(frozen=True)
class Transition:
    command: Command
    from_states: frozenset[State]
    to_state: Target
    kinds: frozenset[Kind]
    clock: Clock
    hands_to: Node | None = None  # the new owner, for relay and county_decide


@dataclass(frozen=True)
class CaseFacts:
    """What the guards need to know about the case (before the command) and who acts."""

    owner: Node = "township"
    actor: Node = "township"
    open_gaps: int = 0  # 容缺 materials promised but not yet brought in
    open_tasks: int = 0  # joint cases: co-departments' tasks not yet done
    paused_from: State | None = None  # the state before the current pause


class TransitionRefused(Exception):
    """The command is not allowed; `message` says why, in Chinese, for the clerk."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _t(
    command: Command,
    from_states: str,
    to_state: Target,
    kinds: str,
    clock: Clock = "none",
    hands_to: Node | None = None,
) -> Transition:
    states = frozenset(from_states.split())
    kind_set = frozenset(KINDS if kinds == ALL else kinds.split())
    if not (states <= set(STATES) and kind_set <= set(KINDS)):
        raise ValueError(f"unknown state or kind in {from_states!r} / {kinds!r}")
    return Transition(
        command,
        cast("frozenset[State]", states),
        to_state,
        cast("frozenset[Kind]", kind_set),
        clock,
        hands_to,
    )


WORKING = "promised joint relayed"  # the kinds that can pause after acceptance

TRANSITIONS: tuple[Transition, ...] = (
    # Intake
    _t("submit", "draft", "submitted", ALL),
    _t("accept", "submitted", "accepted", "immediate promised relayed", "start"),
    _t("accept", "submitted", "joint_in_progress", "joint", "start"),
    _t("accept_with_gaps", "submitted", "accepted", "promised relayed", "start"),
    _t("accept_with_gaps", "submitted", "joint_in_progress", "joint", "start"),
    _t("notify_missing", "submitted", "awaiting_materials", ALL, "stop"),
    _t("refuse", "submitted awaiting_materials", "refused", ALL, "end"),
    # Work
    _t("start_review", "accepted", "in_review", "promised relayed"),
    _t("task_done", "joint_in_progress awaiting_materials suspended", "same", "joint"),
    _t("mark_ready", "in_review", "ready_to_relay", "relayed"),
    _t("relay", "ready_to_relay", "relayed", "relayed", hands_to="county"),
    _t("county_decide", "relayed", "decided", "relayed", "end", hands_to="township"),
    _t("decide", "accepted", "decided", "immediate", "end"),
    _t("decide", "in_review", "decided", "promised", "end"),
    _t("decide", "joint_in_progress", "decided", "joint", "end"),
    _t("extend", "accepted in_review", "same", "promised relayed"),
    _t("extend", "joint_in_progress", "same", "joint"),
    _t("extend", "ready_to_relay relayed", "same", "relayed"),
    _t("close_gap", "accepted in_review awaiting_materials suspended", "same", "promised relayed"),
    _t("close_gap", "joint_in_progress awaiting_materials suspended", "same", "joint"),
    # Pauses after acceptance
    _t("notify_missing", "in_review", "awaiting_materials", "promised relayed", "stop"),
    _t("notify_missing", "joint_in_progress", "awaiting_materials", "joint", "stop"),
    _t("notify_missing", "relayed", "awaiting_materials", "relayed", "stop"),
    _t("supplement", "awaiting_materials", "back", ALL, "resume"),
    _t("suspend", "in_review", "suspended", "promised relayed", "stop"),
    _t("suspend", "joint_in_progress", "suspended", "joint", "stop"),
    _t("suspend", "relayed", "suspended", "relayed", "stop"),
    _t("resume", "suspended", "back", WORKING, "resume"),
    # Withdrawal by the applicant, before a decision
    _t("withdraw", "submitted awaiting_materials", "withdrawn", ALL, "end"),
    _t("withdraw", "accepted", "withdrawn", "immediate", "end"),
    _t("withdraw", "accepted in_review suspended", "withdrawn", "promised relayed", "end"),
    _t("withdraw", "joint_in_progress suspended", "withdrawn", "joint", "end"),
    _t("withdraw", "ready_to_relay relayed", "withdrawn", "relayed", "end"),
    # After the decision
    _t("deliver", "decided", "delivered", ALL),
    _t("rate", "delivered", "rated", ALL),
    # Scans of materials and signed papers: every state the kind reaches after intake
    _t(
        "attach",
        "submitted awaiting_materials decided delivered rated refused withdrawn",
        "same",
        ALL,
    ),
    _t("attach", "accepted", "same", "immediate promised relayed"),
    _t("attach", "in_review", "same", "promised relayed"),
    _t("attach", "joint_in_progress", "same", "joint"),
    _t("attach", "ready_to_relay relayed", "same", "relayed"),
    _t("attach", "suspended", "same", WORKING),
)

# Which command led into a paused state, so `back` can check where the case may return to.
_PAUSED_BY: dict[State, Command] = {"awaiting_materials": "notify_missing", "suspended": "suspend"}
_HANDS_TO: dict[Command, Node] = {t.command: t.hands_to for t in TRANSITIONS if t.hands_to}


def _rows(kind: Kind, state: State) -> list[Transition]:
    return [t for t in TRANSITIONS if kind in t.kinds and state in t.from_states]


def allowed(kind: Kind, state: State) -> list[Command]:
    """The commands the table opens for a kind in a state (guards not applied), in order."""
    open_ = {t.command for t in _rows(kind, state)}
    return [c for c in COMMANDS if c in open_]


def transition(kind: Kind, state: State, command: Command) -> Transition:
    """The table's row for this command, or `TransitionRefused` saying why there is none."""
    for row in _rows(kind, state):
        if row.command == command:
            return row
    name = COMMAND_NAMES[command]
    if not any(kind in t.kinds for t in TRANSITIONS if t.command == command):
        raise TransitionRefused(f"{KIND_NAMES[kind]}没有“{name}”这一步")
    again = "再" if state in CLOSED else ""
    raise TransitionRefused(f"当前状态为“{STATE_NAMES[state]}”，不能{again}“{name}”")


def next_state(
    kind: Kind, state: State, command: Command, *, case: CaseFacts | None = None
) -> State:
    """Where the command leads, or `TransitionRefused`.

    Without `case` only the table is consulted (menus, tests); the action that records an
    event passes the case's facts so the guards apply.
    """
    row = transition(kind, state, command)
    if case is not None:
        _check_guards(kind, state, command, case)
    if row.to_state == "same":
        return state
    if row.to_state == "back":
        return _back(kind, state, case)
    return row.to_state


def next_owner(owner: Node, command: Command) -> Node:
    """Who owns the case after the command: relaying hands it up, the county's decision down."""
    return _HANDS_TO.get(command, owner)


def clock_of(command: Command) -> Clock:
    """What the command does to the case's clock (the same in every row of the command)."""
    return next(t.clock for t in TRANSITIONS if t.command == command)


def _check_guards(kind: Kind, state: State, command: Command, case: CaseFacts) -> None:
    name = COMMAND_NAMES[command]
    if case.actor != case.owner:
        raise TransitionRefused(
            f"该办件目前由{NODE_NAMES[case.owner]}负责办理，{NODE_NAMES[case.actor]}不能“{name}”"
        )
    if command == "refuse" and state == "awaiting_materials" and case.paused_from != "submitted":
        raise TransitionRefused("该办件已经受理，不能再“不予受理”")
    if command in ("decide", "county_decide") and case.open_gaps:
        raise TransitionRefused(f"还有 {case.open_gaps} 项容缺材料未补齐，补齐后才能办结")
    if command in ("mark_ready", "relay") and case.open_gaps:
        raise TransitionRefused(f"还有 {case.open_gaps} 项容缺材料未补齐，补齐后才能“{name}”")
    if command == "decide" and kind == "joint" and case.open_tasks:
        raise TransitionRefused(f"还有 {case.open_tasks} 项联办任务未完成，全部完成后才能办结")
    if command == "task_done" and not case.open_tasks:
        raise TransitionRefused("没有未完成的联办任务")
    if command == "close_gap" and not case.open_gaps:
        raise TransitionRefused("没有未补齐的容缺材料")


def _back(kind: Kind, state: State, case: CaseFacts | None) -> State:
    """The state a paused case returns to; the facts must name one the pause can come from."""
    origin = case.paused_from if case is not None else None
    pause = _PAUSED_BY.get(state)
    origins = {
        s
        for t in TRANSITIONS
        if t.command == pause and kind in t.kinds and t.to_state == state
        for s in t.from_states
    }
    if origin is None or origin not in origins:
        raise ValueError(f"{kind} case in {state}: paused_from must be one of {sorted(origins)}")
    return origin
