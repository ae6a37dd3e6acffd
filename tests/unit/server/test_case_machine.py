"""The case state machine against a hand-written table, its guards, clock and ownership.

`EXPECTED` is written out by hand from the rules (DESIGN.md §4, the seeds, the issue), not
derived from `TRANSITIONS`, so a wrong row in the machine's table fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
from dataclasses import dataclass

import pytest

from server.cases import machine
from server.cases.machine import (
    COMMAND_NAMES,
    COMMANDS,
    KIND_NAMES,
    KINDS,
    STATE_NAMES,
    STATES,
    TRANSITIONS,
    CaseFacts,
    Clock,
    Command,
    Kind,
    Node,
    State,
    TransitionRefused,
    allowed,
    clock_of,
    next_owner,
    next_state,
    transition,
)
from server.catalog.models import HANDLING_KINDS

# kind -> state -> "command>target ...": ">=" stays, "<" returns to where it paused.
# A state left out allows nothing.
EXPECTED: dict[str, dict[str, str]] = {
    "immediate": {
        "draft": "submit>submitted",
        "submitted": "accept>accepted notify_missing>awaiting_materials refuse>refused"
        " withdraw>withdrawn attach>=",
        "awaiting_materials": "refuse>refused supplement< withdraw>withdrawn attach>=",
        "accepted": "decide>decided withdraw>withdrawn attach>=",
        "decided": "deliver>delivered attach>=",
        "delivered": "rate>rated attach>=",
        "rated": "attach>=",
        "refused": "attach>=",
        "withdrawn": "attach>=",
    },
    "promised": {
        "draft": "submit>submitted",
        "submitted": "accept>accepted accept_with_gaps>accepted"
        " notify_missing>awaiting_materials refuse>refused withdraw>withdrawn attach>=",
        "awaiting_materials": "refuse>refused supplement< close_gap>= withdraw>withdrawn attach>=",
        "accepted": "start_review>in_review extend>= close_gap>= withdraw>withdrawn attach>=",
        "in_review": "notify_missing>awaiting_materials decide>decided extend>="
        " suspend>suspended close_gap>= withdraw>withdrawn attach>=",
        "suspended": "resume< close_gap>= withdraw>withdrawn attach>=",
        "decided": "deliver>delivered attach>=",
        "delivered": "rate>rated attach>=",
        "rated": "attach>=",
        "refused": "attach>=",
        "withdrawn": "attach>=",
    },
    "joint": {
        "draft": "submit>submitted",
        "submitted": "accept>joint_in_progress accept_with_gaps>joint_in_progress"
        " notify_missing>awaiting_materials refuse>refused withdraw>withdrawn attach>=",
        "awaiting_materials": "refuse>refused supplement< task_done>= close_gap>="
        " withdraw>withdrawn attach>=",
        "joint_in_progress": "notify_missing>awaiting_materials task_done>= decide>decided"
        " extend>= suspend>suspended close_gap>= withdraw>withdrawn attach>=",
        "suspended": "task_done>= resume< close_gap>= withdraw>withdrawn attach>=",
        "decided": "deliver>delivered attach>=",
        "delivered": "rate>rated attach>=",
        "rated": "attach>=",
        "refused": "attach>=",
        "withdrawn": "attach>=",
    },
    "relayed": {
        "draft": "submit>submitted",
        "submitted": "accept>accepted accept_with_gaps>accepted"
        " notify_missing>awaiting_materials refuse>refused withdraw>withdrawn attach>=",
        "awaiting_materials": "refuse>refused supplement< close_gap>= withdraw>withdrawn attach>=",
        "accepted": "start_review>in_review extend>= close_gap>= withdraw>withdrawn attach>=",
        "in_review": "notify_missing>awaiting_materials mark_ready>ready_to_relay extend>="
        " suspend>suspended close_gap>= withdraw>withdrawn attach>=",
        "ready_to_relay": "relay>relayed extend>= withdraw>withdrawn attach>=",
        "relayed": "notify_missing>awaiting_materials county_decide>decided extend>="
        " suspend>suspended withdraw>withdrawn attach>=",
        "suspended": "resume< close_gap>= withdraw>withdrawn attach>=",
        "decided": "deliver>delivered attach>=",
        "delivered": "rate>rated attach>=",
        "rated": "attach>=",
        "refused": "attach>=",
        "withdrawn": "attach>=",
    },
}

# Where a paused case may come from, per kind: a one-time notice, a suspension.
PAUSE_ORIGINS: dict[str, dict[str, set[State]]] = {
    "immediate": {"awaiting_materials": {"submitted"}, "suspended": set()},
    "promised": {"awaiting_materials": {"submitted", "in_review"}, "suspended": {"in_review"}},
    "joint": {
        "awaiting_materials": {"submitted", "joint_in_progress"},
        "suspended": {"joint_in_progress"},
    },
    "relayed": {
        "awaiting_materials": {"submitted", "in_review", "relayed"},
        "suspended": {"in_review", "relayed"},
    },
}

CLOCKS: dict[str, str] = {
    "accept": "start",
    "accept_with_gaps": "start",
    "notify_missing": "stop",
    "suspend": "stop",
    "supplement": "resume",
    "resume": "resume",
    "decide": "end",
    "county_decide": "end",
    "refuse": "end",
    "withdraw": "end",
}  # every other command: "none"


def expected(kind: str, state: str) -> dict[str, str]:
    """command -> target ("=" same, "<" back) for one cell of EXPECTED."""
    cells: dict[str, str] = {}
    for token in EXPECTED[kind].get(state, "").split():
        if token.endswith("<"):
            cells[token[:-1]] = "<"
        else:
            command, target = token.split(">")
            cells[command] = target
    return cells


def test_expectation_table_names_only_real_states_and_commands() -> None:
    assert set(EXPECTED) == set(KINDS)
    for kind in KINDS:
        assert set(EXPECTED[kind]) <= set(STATES)
        for state in EXPECTED[kind]:
            for command, target in expected(kind, state).items():
                assert command in COMMANDS
                assert target in {"=", "<", *STATES}


CELLS = list(itertools.product(KINDS, STATES, COMMANDS))


@pytest.mark.parametrize(("kind", "state", "command"), CELLS, ids=["-".join(c) for c in CELLS])
def test_every_kind_state_and_command(kind: Kind, state: State, command: Command) -> None:
    want = expected(kind, state).get(command)
    if want is None:
        assert command not in allowed(kind, state)
        with pytest.raises(TransitionRefused):
            next_state(kind, state, command)
        return
    assert command in allowed(kind, state)
    if want == "<":
        origins = PAUSE_ORIGINS[kind][state]
        for origin in STATES:
            owner = owner_in(origin)
            facts = CaseFacts(paused_from=origin, owner=owner, actor=owner)
            if origin in origins:
                assert next_state(kind, state, command, case=facts) == origin
            else:
                with pytest.raises(ValueError, match="paused_from"):
                    next_state(kind, state, command, case=facts)
    elif want == "=":
        assert next_state(kind, state, command) == state
    else:
        assert next_state(kind, state, command) == want


def owner_in(state: str) -> Node:
    return "county" if state == "relayed" else "township"


@pytest.mark.parametrize(("kind", "state"), list(itertools.product(KINDS, STATES)))
def test_allowed_is_exactly_the_table_in_declaration_order(kind: Kind, state: State) -> None:
    want = expected(kind, state)
    assert allowed(kind, state) == [c for c in COMMANDS if c in want]


def test_transition_rows_never_overlap() -> None:
    for kind, state, command in CELLS:
        rows = [
            t
            for t in TRANSITIONS
            if t.command == command and kind in t.kinds and state in t.from_states
        ]
        assert len(rows) <= 1, (kind, state, command)


def test_every_allowing_state_is_reachable_and_every_kind_can_finish() -> None:
    for kind in KINDS:
        seen, todo = {"draft"}, ["draft"]
        while todo:
            state = todo.pop()
            for target in expected(kind, state).values():
                if target not in {"=", "<"} and target not in seen:
                    seen.add(target)
                    todo.append(target)
        assert set(EXPECTED[kind]) <= seen, kind
        assert {"rated", "refused", "withdrawn"} <= seen
    final: tuple[State, ...] = ("rated", "refused", "withdrawn")
    for kind, state in itertools.product(KINDS, final):
        assert allowed(kind, state) == ["attach"]  # a signed paper may still be scanned


def test_attaching_a_scan_changes_nothing_but_needs_the_owner() -> None:
    for kind, state in itertools.product(KINDS, STATES):
        if "attach" in allowed(kind, state):
            assert next_state(kind, state, "attach") == state
    assert "attach" not in allowed("promised", "draft")
    assert clock_of("attach") == "none" and next_owner("county", "attach") == "county"
    facts = CaseFacts(owner="county", actor="township")
    assert refusal("relayed", "relayed", "attach", facts) == (
        "该办件目前由县政务服务中心负责办理，乡镇便民服务中心不能“上传扫描件”"
    )
    county = CaseFacts(owner="county", actor="county", open_gaps=1)
    assert next_state("relayed", "relayed", "attach", case=county) == "relayed"


# -- Happy paths and longer journeys ----------------------------------------------------------


@dataclass
class Journey:
    """A test-side fold of commands into the facts the guards need."""

    kind: Kind
    state: State = "draft"
    owner: Node = "township"
    gaps: int = 0
    tasks: int = 0
    paused_from: State | None = None
    clocks: list[Clock] = dataclasses.field(default_factory=list)

    def do(self, command: Command, *, actor: Node | None = None) -> State:
        facts = CaseFacts(
            owner=self.owner,
            actor=actor or self.owner,
            open_gaps=self.gaps,
            open_tasks=self.tasks,
            paused_from=self.paused_from,
        )
        new = next_state(self.kind, self.state, command, case=facts)
        self.clocks.append(transition(self.kind, self.state, command).clock)
        if clock_of(command) == "stop":
            self.paused_from = self.state
        elif new != "awaiting_materials" and new != "suspended":
            self.paused_from = None
        self.gaps -= command == "close_gap"
        self.tasks -= command == "task_done"
        self.owner = next_owner(self.owner, command)
        self.state = new
        return new


def walk(journey: Journey, steps: list[tuple[Command, State]]) -> None:
    for command, state in steps:
        assert journey.do(command) == state, command


def test_immediate_happy_path_in_one_sitting() -> None:
    case = Journey("immediate")
    walk(
        case,
        [
            ("submit", "submitted"),
            ("accept", "accepted"),
            ("decide", "decided"),
            ("deliver", "delivered"),
            ("rate", "rated"),
        ],
    )
    assert case.clocks == ["none", "start", "end", "none", "none"]


def test_promised_happy_path() -> None:
    case = Journey("promised")
    walk(
        case,
        [
            ("submit", "submitted"),
            ("accept", "accepted"),
            ("start_review", "in_review"),
            ("decide", "decided"),
            ("deliver", "delivered"),
            ("rate", "rated"),
        ],
    )
    assert case.owner == "township"


def test_joint_happy_path_decides_when_all_tasks_are_done() -> None:
    case = Journey("joint")
    walk(case, [("submit", "submitted"), ("accept", "joint_in_progress")])
    case.tasks = 2  # the accept action opens one task per co-department
    walk(case, [("task_done", "joint_in_progress")])
    with pytest.raises(TransitionRefused, match="还有 1 项联办任务未完成"):
        case.do("decide")
    walk(
        case,
        [
            ("task_done", "joint_in_progress"),
            ("decide", "decided"),
            ("deliver", "delivered"),
            ("rate", "rated"),
        ],
    )


def test_relayed_happy_path_hands_the_case_up_and_back() -> None:
    case = Journey("relayed")
    walk(
        case,
        [
            ("submit", "submitted"),
            ("accept", "accepted"),
            ("start_review", "in_review"),
            ("mark_ready", "ready_to_relay"),
            ("relay", "relayed"),
        ],
    )
    assert (case.state, case.owner) == ("relayed", "county")
    assert case.do("county_decide", actor="county") == "decided"
    assert (case.state, case.owner) == ("decided", "township")
    walk(case, [("deliver", "delivered"), ("rate", "rated")])
    assert case.clocks == ["none", "start", "none", "none", "none", "end", "none", "none"]


def test_promised_journey_with_notice_gaps_suspension_and_extension() -> None:
    case = Journey("promised")
    walk(
        case,
        [
            ("submit", "submitted"),
            ("notify_missing", "awaiting_materials"),
            ("supplement", "submitted"),
            ("accept_with_gaps", "accepted"),
        ],
    )
    case.gaps = 1  # the commitment names one missing material
    walk(case, [("start_review", "in_review"), ("extend", "in_review")])
    with pytest.raises(TransitionRefused, match="还有 1 项容缺材料未补齐"):
        case.do("decide")
    walk(
        case,
        [
            ("suspend", "suspended"),
            ("close_gap", "suspended"),
            ("resume", "in_review"),
            ("notify_missing", "awaiting_materials"),
            ("supplement", "in_review"),
            ("decide", "decided"),
        ],
    )
    assert case.clocks == [
        "none", "stop", "resume", "start", "none", "none",
        "stop", "none", "resume", "stop", "resume", "end",
    ]  # fmt: skip


def test_relayed_journey_paused_at_the_county_returns_to_the_county() -> None:
    case = Journey("relayed")
    walk(
        case,
        [
            ("submit", "submitted"),
            ("accept", "accepted"),
            ("start_review", "in_review"),
            ("suspend", "suspended"),
            ("resume", "in_review"),
            ("mark_ready", "ready_to_relay"),
            ("relay", "relayed"),
            ("notify_missing", "awaiting_materials"),
            ("supplement", "relayed"),
            ("suspend", "suspended"),
            ("resume", "relayed"),
            ("extend", "relayed"),
        ],
    )
    assert case.owner == "county"
    with pytest.raises(TransitionRefused, match="乡镇便民服务中心不能“撤回”"):
        case.do("withdraw", actor="township")
    assert case.do("withdraw") == "withdrawn"


def test_withdrawal_and_refusal_end_a_case() -> None:
    for kind in KINDS:
        case = Journey(kind)
        walk(case, [("submit", "submitted"), ("withdraw", "withdrawn")])
        case = Journey(kind)
        walk(
            case,
            [
                ("submit", "submitted"),
                ("notify_missing", "awaiting_materials"),
                ("refuse", "refused"),
            ],
        )
        assert case.clocks[-1] == "end"


# -- Guards -----------------------------------------------------------------------------------


def refusal(kind: Kind, state: State, command: Command, facts: CaseFacts | None = None) -> str:
    with pytest.raises(TransitionRefused) as caught:
        next_state(kind, state, command, case=facts)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def test_table_refusals_name_the_state_or_the_kind() -> None:
    assert refusal("promised", "decided", "accept") == "当前状态为“已办结”，不能再“受理”"
    assert refusal("promised", "rated", "rate") == "当前状态为“已评价”，不能再“评价”"
    assert refusal("joint", "draft", "decide") == "当前状态为“草稿”，不能“办结（准予/不予）”"
    assert refusal("immediate", "submitted", "accept_with_gaps") == "即办件没有“容缺受理”这一步"
    assert refusal("promised", "in_review", "relay") == "承诺件没有“上报”这一步"
    assert refusal("relayed", "in_review", "decide") == "上报件没有“办结（准予/不予）”这一步"


@pytest.mark.parametrize(
    ("kind", "state", "command", "message"),
    [
        ("immediate", "accepted", "decide", "还有 2 项容缺材料未补齐，补齐后才能办结"),
        ("promised", "in_review", "decide", "还有 2 项容缺材料未补齐，补齐后才能办结"),
        ("joint", "joint_in_progress", "decide", "还有 2 项容缺材料未补齐，补齐后才能办结"),
        ("relayed", "in_review", "mark_ready", "还有 2 项容缺材料未补齐，补齐后才能“完成初审”"),
        ("relayed", "ready_to_relay", "relay", "还有 2 项容缺材料未补齐，补齐后才能“上报”"),
    ],
)
def test_open_gaps_block_the_decision_and_the_relay(
    kind: Kind, state: State, command: Command, message: str
) -> None:
    assert refusal(kind, state, command, CaseFacts(open_gaps=2)) == message
    assert next_state(kind, state, command, case=CaseFacts()) != state


def test_open_gaps_block_the_countys_decision() -> None:
    county = CaseFacts(owner="county", actor="county")
    gaps = dataclasses.replace(county, open_gaps=1)
    assert refusal("relayed", "relayed", "county_decide", gaps) == (
        "还有 1 项容缺材料未补齐，补齐后才能办结"
    )
    assert next_state("relayed", "relayed", "county_decide", case=county) == "decided"


def test_gaps_must_exist_to_be_closed() -> None:
    assert refusal("promised", "in_review", "close_gap", CaseFacts()) == "没有未补齐的容缺材料"
    assert next_state("promised", "in_review", "close_gap", case=CaseFacts(open_gaps=1)) == (
        "in_review"
    )


def test_joint_tasks_must_all_be_done_before_the_decision() -> None:
    open_tasks = CaseFacts(open_tasks=3)
    assert refusal("joint", "joint_in_progress", "decide", open_tasks) == (
        "还有 3 项联办任务未完成，全部完成后才能办结"
    )
    assert refusal("joint", "joint_in_progress", "task_done", CaseFacts()) == "没有未完成的联办任务"
    both = CaseFacts(open_tasks=1, open_gaps=1)
    assert "容缺材料" in refusal("joint", "joint_in_progress", "decide", both)
    assert next_state("joint", "suspended", "task_done", case=open_tasks) == "suspended"


@pytest.mark.parametrize(
    ("kind", "state", "command", "owner", "actor", "message"),
    [
        (
            "relayed",
            "relayed",
            "county_decide",
            "county",
            "township",
            "该办件目前由县政务服务中心负责办理，乡镇便民服务中心不能“县级决定”",
        ),
        (
            "relayed",
            "relayed",
            "extend",
            "county",
            "township",
            "该办件目前由县政务服务中心负责办理，乡镇便民服务中心不能“延期”",
        ),
        (
            "promised",
            "submitted",
            "accept",
            "township",
            "county",
            "该办件目前由乡镇便民服务中心负责办理，县政务服务中心不能“受理”",
        ),
        (
            "relayed",
            "ready_to_relay",
            "relay",
            "township",
            "county",
            "该办件目前由乡镇便民服务中心负责办理，县政务服务中心不能“上报”",
        ),
        (
            "relayed",
            "decided",
            "deliver",
            "township",
            "county",
            "该办件目前由乡镇便民服务中心负责办理，县政务服务中心不能“送达”",
        ),
    ],
)
def test_only_the_owner_moves_a_case(
    kind: Kind, state: State, command: Command, owner: Node, actor: Node, message: str
) -> None:
    assert refusal(kind, state, command, CaseFacts(owner=owner, actor=actor)) == message
    assert next_state(kind, state, command, case=CaseFacts(owner=owner, actor=owner))


def test_ownership_is_checked_before_the_other_guards() -> None:
    facts = CaseFacts(owner="county", actor="township", open_gaps=1)
    assert "县政务服务中心负责办理" in refusal("relayed", "relayed", "county_decide", facts)


def test_refusal_at_intake_only_before_acceptance() -> None:
    intake = CaseFacts(paused_from="submitted")
    assert next_state("promised", "awaiting_materials", "refuse", case=intake) == "refused"
    review = CaseFacts(paused_from="in_review")
    assert refusal("promised", "awaiting_materials", "refuse", review) == (
        "该办件已经受理，不能再“不予受理”"
    )


def test_table_errors_come_before_guards() -> None:
    facts = CaseFacts(owner="county", actor="township")
    assert refusal("promised", "rated", "rate", facts) == "当前状态为“已评价”，不能再“评价”"


def test_going_back_needs_a_possible_origin() -> None:
    with pytest.raises(ValueError, match="paused_from"):
        next_state("promised", "suspended", "resume")
    with pytest.raises(ValueError, match="paused_from"):
        next_state("promised", "suspended", "resume", case=CaseFacts(paused_from="accepted"))
    with pytest.raises(ValueError, match="paused_from"):
        next_state(
            "joint", "awaiting_materials", "supplement", case=CaseFacts(paused_from="relayed")
        )


def test_without_facts_only_the_table_is_checked() -> None:
    assert next_state("joint", "joint_in_progress", "decide") == "decided"
    assert next_state("promised", "awaiting_materials", "refuse") == "refused"


# -- Clock and ownership per transition -------------------------------------------------------


def test_clock_of_every_transition() -> None:
    for row in TRANSITIONS:
        assert row.clock == CLOCKS.get(row.command, "none"), row
    for command in COMMANDS:
        assert clock_of(command) == CLOCKS.get(command, "none"), command


def test_only_relay_and_the_countys_decision_change_the_owner() -> None:
    for command in COMMANDS:
        for owner in ("township", "county"):
            want = {"relay": "county", "county_decide": "township"}.get(command, owner)
            assert next_owner(owner, command) == want
    assert {t.command: t.hands_to for t in TRANSITIONS if t.hands_to} == {
        "relay": "county",
        "county_decide": "township",
    }


# -- Names and shape --------------------------------------------------------------------------


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_state_and_command_has_a_chinese_name() -> None:
    assert list(STATE_NAMES) == list(STATES)
    assert list(COMMAND_NAMES) == list(COMMANDS)
    assert all(has_chinese(name) for name in [*STATE_NAMES.values(), *COMMAND_NAMES.values()])
    assert len(set(STATE_NAMES.values())) == len(STATES)
    assert len(set(COMMAND_NAMES.values())) == len(COMMANDS)
    assert KIND_NAMES == HANDLING_KINDS


def test_required_states_and_names() -> None:
    required = (
        "draft submitted awaiting_materials accepted in_review ready_to_relay relayed"
        " suspended decided delivered rated refused withdrawn"
    ).split()
    assert set(required) <= set(STATES)
    names = set(COMMAND_NAMES.values())
    for word in (
        "受理 容缺受理 一次性告知 不予受理 补正 开始审查 中止 恢复 延期 上报 县级决定"
        " 办结（准予/不予） 送达 评价 撤回 补齐容缺材料 联办任务完成"
    ).split():
        assert word in names, word


def test_transitions_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TRANSITIONS[0].to_state = "rated"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CaseFacts().open_gaps = 1  # type: ignore[misc]


def test_the_machine_is_pure() -> None:
    tree = ast.parse(inspect.getsource(machine))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "dataclasses", "typing"}
