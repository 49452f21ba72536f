"""Block Kit for case proposals: the invitation and reminder DMs, the proposal modal, the confirmation
and the person's list. Builders take plain values (``bot.learning_audits.types``), never database rows,
so jobs and handlers share them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    OptionGroup,
    PlainTextInputElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.core.blocks import (
    NO_NAMES_HINT,
    actions,
    button,
    context,
    divider,
    header,
    modal,
    privacy_notice,
    section,
)
from bot.core.formatting import day as nice_date
from bot.core.formatting import day_month as short_date
from bot.learning_audits.types import ProposalCard, ProposalIds, ProposalPrefill, TeamOption

PROPOSE_LABEL = "Propose a case"
CARRY_LABEL = "Propose again next quarter"
MODAL_TITLE = "Propose a case"
EDIT_TITLE = "Edit proposal"
REASON_LABEL = "Why would this case give most learning?"
CASE_REF_LABEL = "Case reference"
TEAM_LABEL = "Service and team"
CASE_HOLDER_LABEL = "Case holder"
TEAM_MANAGER_LABEL = "Team manager"
FLAGS_LABEL = "Does any of these apply?"

# option value -> words on the checkbox; the values are Proposal's column names
FLAG_WORDS: dict[str, str] = {
    "previously_inadequate": "Previously graded Inadequate",
    "lots_of_learning": "Previously created a lot of learning",
    "revisit": "A re-visit of an earlier audit",
}

WHY_LEARNING_AUDITS = (
    "A learning audit is a strengths-based conversation: an independent Service Manager meets the case "
    "holder and team manager to reflect on the difference made for the child and family and what the "
    "service can learn. It is *not* a performance management tool."
)
_OPTION_TEXT_LIMIT = 75
_STATIC_OPTIONS_LIMIT = 100
LIST_LIMIT = 15
"""Proposals shown in one list message (at most three blocks each keeps it under Slack's 50)."""


class ProposalMeta(BaseModel):
    """The modal's private_metadata. Only says *which* proposal; never trusted for permission."""

    quarter: str
    proposal_id: int | None = None

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, raw: str | None) -> ProposalMeta | None:
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError:
            return None


def quarter_words(label: str, months: str) -> str:
    return f"{label} ({months})"


def propose_button(quarter_key: str) -> Any:
    return button(PROPOSE_LABEL, ProposalIds.PROPOSE, quarter_key, style="primary")


# ---------------------------------------------------------------------------------------------
# messages


def invitation_message(*, quarter: str, deadline: date, quarter_key: str,
                       service_counts: Sequence[tuple[str, int]]) -> tuple[str, list[Block]]:
    """The opening DM: what to propose, by when, why, and how far the service has got."""
    counts = [f"*{name}* has {_proposals(n)} so far." for name, n in service_counts]
    text = (f"Learning audits for {quarter}: please propose the cases that would give most learning "
            f"by {nice_date(deadline)}.")
    blocks: list[Block] = [
        header("Propose cases for learning audits"),
        section(f"Learning audits for *{quarter}* are open. Please propose the cases that would give "
                f"*most learning* from a learning audit, by *{nice_date(deadline)}*."),
        section(WHY_LEARNING_AUDITS),
    ]
    if counts:
        blocks.append(section("\n".join(counts)))
    blocks += [
        context("Re-visits of cases once graded Inadequate, or that created a lot of learning, are welcome. "
                "Case references only: no names or identifying details."),
        actions(propose_button(quarter_key), block_id=ProposalIds.PROPOSE),
    ]
    return text, blocks


def reminder_message(*, quarter: str, deadline: date, quarter_key: str) -> tuple[str, list[Block]]:
    text = f"Reminder: proposals for {quarter} learning audits close on {nice_date(deadline)}."
    blocks: list[Block] = [
        section(f":wave: A reminder: proposals for *{quarter}* learning audits close on "
                f"*{nice_date(deadline)}*, and we haven't had one from you yet. Which case would give most "
                f"learning?"),
        context("A learning audit is strengths-based, not performance management. "
                "Case references only: no names or identifying details."),
        actions(propose_button(quarter_key), block_id=ProposalIds.PROPOSE),
    ]
    return text, blocks


def confirmation_message(*, card: ProposalCard, quarter: str, edited: bool, deadline: date,
                         changed_by: str | None = None) -> tuple[str, list[Block]]:
    """The proposer's receipt, sent again after each edit (by them, or by Q&I on their behalf)."""
    if changed_by:
        opening = f"<@{changed_by}> updated your proposal of"
    else:
        opening = "Thank you: you updated your proposal of" if edited else "Thank you: you proposed"
    text = f"{opening} {card.case_ref} ({card.team_label}) for {quarter} learning audits."
    lines = [f":white_check_mark: {opening} *{card.case_ref}* ({card.team_label}) "
             f"for *{quarter}* learning audits."]
    if card.flags:
        lines.append("Flagged: " + "; ".join(FLAG_WORDS[f] for f in card.flags if f in FLAG_WORDS) + ".")
    blocks: list[Block] = [
        section("\n".join(lines)),
        context(f"You can edit or withdraw it until the cases are allocated after the deadline, "
                f"{nice_date(deadline)}."),
        actions(*_change_buttons(card.id), block_id=f"proposal-{card.id}"),
    ]
    return text, blocks


def withdrawn_text(case_ref: str, quarter: str) -> str:
    return (f"You withdrew *{case_ref}* from {quarter} learning audits. "
            f"It can be proposed again until the cases are allocated.")


def proposals_list(*, cards: Sequence[ProposalCard], quarter: str, quarter_key: str, changeable: bool,
                   closed_note: str | None, can_propose: bool) -> tuple[str, list[Block]]:
    """The person's proposals this quarter, each with Edit and Withdraw while that is still allowed."""
    live = [c for c in cards if c.status != "withdrawn"]
    text = f"Your proposals for {quarter}: {len(live)}."
    blocks: list[Block] = [header(f"Your proposals for {quarter}"[:150])]
    if not cards:
        blocks.append(section(f"You have not proposed a case for *{quarter}* yet."))
    for card in cards[:LIST_LIMIT]:
        flags = "; ".join(FLAG_WORDS[f] for f in card.flags if f in FLAG_WORDS)
        status = _STATUS_WORDS.get(card.status, card.status)
        line = f"*{card.case_ref}*  {card.team_label}\nProposed {short_date(card.proposed_on)} · {status}"
        if flags:
            line += f" · {flags}"
        blocks.append(section(line, block_id=f"proposal-card-{card.id}"))
        if changeable and card.status == "proposed":
            blocks.append(actions(*_change_buttons(card.id), block_id=f"proposal-{card.id}"))
        if card.status == "not_allocated":
            if card.why_not:
                blocks.append(context(card.why_not))
            if card.carried_to:
                blocks.append(context(f"Proposed again for {card.carried_to}."))
            else:
                blocks.append(actions(button(CARRY_LABEL, ProposalIds.CARRY, str(card.id)),
                                      block_id=f"proposal-{card.id}"))
    if len(cards) > LIST_LIMIT:
        blocks.append(context(f"{len(cards) - LIST_LIMIT} more not shown."))
    if closed_note:
        blocks.append(context(closed_note))
    if can_propose:
        blocks += [divider(), actions(propose_button(quarter_key), block_id=ProposalIds.PROPOSE)]
    return text, blocks


_STATUS_WORDS = {
    "proposed": "proposed",
    "withdrawn": "withdrawn",
    "allocated": "allocated for audit",
    "not_allocated": "not allocated",
}


def _change_buttons(proposal_id: int) -> list[Any]:
    return [
        button("Edit", ProposalIds.EDIT, str(proposal_id)),
        button("Withdraw", ProposalIds.WITHDRAW, str(proposal_id), style="danger"),
    ]


def _proposals(n: int) -> str:
    return "no proposals" if n == 0 else f"{n} proposal{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------
# the modal


def team_manager_action(team_key: str | None) -> str:
    """Changing the action id when the team changes makes Slack show the new team's manager.

    Slack keeps what was chosen in an input while its block and action ids survive an update; the
    block id stays put so the parsed state and any inline error still find the field.
    """
    return f"{ProposalIds.TEAM_MANAGER}:{team_key or '-'}"


def proposal_modal(*, meta: ProposalMeta, quarter: str, deadline: date, teams: Sequence[TeamOption],
                   prefill: ProposalPrefill, case_ref_example: str) -> View:
    editing = meta.proposal_id is not None
    options = {t.key: Option(text=t.label[:_OPTION_TEXT_LIMIT], value=t.key) for t in teams}
    initial_team = options.get(prefill.team_key or "")
    if len(options) <= _STATIC_OPTIONS_LIMIT:
        team_select = StaticSelectElement(action_id=ProposalIds.TEAM, placeholder="Choose the team",
                                          options=list(options.values()), initial_option=initial_team)
    else:
        groups: dict[str, list[Option]] = {}
        for team in teams:
            groups.setdefault(team.service_name, []).append(options[team.key])
        team_select = StaticSelectElement(
            action_id=ProposalIds.TEAM, placeholder="Choose the team", initial_option=initial_team,
            option_groups=[OptionGroup(label=name[:_OPTION_TEXT_LIMIT], options=opts[:_STATIC_OPTIONS_LIMIT])
                           for name, opts in list(groups.items())[:_STATIC_OPTIONS_LIMIT]],
        )
    flag_options = [Option(text=words, value=value) for value, words in FLAG_WORDS.items()]
    chosen_flags = [o for o in flag_options if o.value in prefill.flags]
    blocks: list[Block] = [
        section(f"A case for *{quarter}* learning audits: the one that would give *most learning*. "
                f"Proposals close {nice_date(deadline)}."),
        InputBlock(
            block_id=ProposalIds.CASE_REF,
            label=CASE_REF_LABEL,
            hint=f"The case-management reference only, e.g. {case_ref_example}. {NO_NAMES_HINT}",
            element=PlainTextInputElement(action_id=ProposalIds.CASE_REF, initial_value=prefill.case_ref,
                                          placeholder=case_ref_example, max_length=40),
        ),
        InputBlock(block_id=ProposalIds.TEAM, label=TEAM_LABEL, element=team_select, dispatch_action=True,
                   hint="The team that holds the case."),
        InputBlock(
            block_id=ProposalIds.CASE_HOLDER,
            label=CASE_HOLDER_LABEL,
            hint="The allocated worker.",
            element=UserSelectElement(action_id=ProposalIds.CASE_HOLDER, placeholder="Choose the case holder",
                                      initial_user=prefill.case_holder),
        ),
        InputBlock(
            block_id=ProposalIds.TEAM_MANAGER,
            label=TEAM_MANAGER_LABEL,
            optional=True,
            hint="Leave empty to use the team's manager.",
            element=UserSelectElement(action_id=team_manager_action(prefill.team_key),
                                      placeholder="Choose the team manager",
                                      initial_user=prefill.team_manager),
        ),
        InputBlock(
            block_id=ProposalIds.REASON,
            label=REASON_LABEL,
            hint=NO_NAMES_HINT,
            element=PlainTextInputElement(action_id=ProposalIds.REASON, multiline=True, max_length=2000,
                                          initial_value=prefill.reason),
        ),
        InputBlock(
            block_id=ProposalIds.FLAGS,
            label=FLAGS_LABEL,
            optional=True,
            element=CheckboxesElement(action_id=ProposalIds.FLAGS, options=flag_options,
                                      initial_options=chosen_flags or None),
        ),
        privacy_notice(),
    ]
    return modal(
        title=EDIT_TITLE if editing else MODAL_TITLE,
        callback_id=ProposalIds.MODAL,
        blocks=blocks,
        submit="Save" if editing else "Propose",
        private_metadata=meta.dump(),
    )
