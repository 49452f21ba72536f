"""Every feature of the bot, said once: its listeners, jobs, reminders, App Home to-dos and the
Board's digest lines, each imported by name. Adding a feature is adding it here; a renamed or
missing piece fails at import, loudly. The runtime carries this list (``rt.features``), so the
scheduler, the reminders job, App Home and the digest ask it instead of importing features."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

import handlers.actions
import handlers.cib
import handlers.commands
import handlers.cover
import handlers.home
import handlers.learning_audits
import handlers.proposals
import handlers.reports
import handlers.sampling
import handlers.themed_audits
import handlers.themes
import handlers.visits
from bot.actions import cover as actions_cover
from bot.actions import service as actions
from bot.actions import year as actions_year
from bot.cib import jobs as cib_jobs
from bot.cib import service as cib
from bot.core.features import Feature, Features
from bot.core.todo import Todo
from bot.cover import service as cover
from bot.learning_audits import cover as learning_cover
from bot.learning_audits import jobs as learning_jobs
from bot.learning_audits import proposal_jobs
from bot.retention import service as retention
from bot.sampling import cover as sampling_cover
from bot.sampling import draw_run
from bot.sampling import reminders as sampling_reminders
from bot.sampling import results as sampling_results
from bot.sampling import year as sampling_year
from bot.themed_audits import jobs as themed_jobs
from bot.themed_audits import service as themed_audits
from bot.themes import jobs as themes_jobs
from bot.themes import todo as themes_todo
from bot.themes import year as themes_year
from bot.visits import cover as visits_cover
from bot.visits import jobs as visit_jobs
from bot.visits import service as visits
from schedules.reminders import SEND_REMINDERS_JOB


def _cover_todo(session: Session, slack_id: str, today: date) -> list[Todo]:
    """Q&I's cover to-dos over every feature's kinds of work (FEATURES is read when Home asks)."""
    return cover.todo_for(session, slack_id, today, FEATURES.work_kinds())


# In the order the daily reminders run and their summaries read.
FEATURES = Features((
    Feature(
        "help",
        listeners=(handlers.commands.register,),
        jobs=(SEND_REMINDERS_JOB,),
    ),
    Feature(
        "learning audits",
        listeners=(handlers.proposals.register, handlers.learning_audits.register),
        jobs=(proposal_jobs.OPEN_PROPOSALS_JOB, learning_jobs.ALLOCATE_LEARNING_AUDITS_JOB),
        reminders=(("proposals", proposal_jobs.send_proposal_reminders),
                   ("learning audits", learning_jobs.send_learning_reminders)),
        todo=(proposal_jobs.todo_for, learning_jobs.todo_for),
        work=(learning_cover.LEARNING_AUDIT_WORK, learning_cover.PROPOSAL_WORK),
    ),
    Feature(
        "action plans",
        listeners=(handlers.actions.register,),
        reminders=(("actions", actions.send_action_reminders),),
        todo=(actions.todo_for,),
        work=(actions_cover.ACTION_WORK,),
        year=(actions_year.year_tables,),
    ),
    Feature(
        "random sampling",
        listeners=(handlers.sampling.register,),
        jobs=(draw_run.DRAW_RANDOM_SAMPLE_JOB,),
        reminders=(("random sampling", sampling_reminders.send_sampling_reminders),),
        todo=(sampling_reminders.todo_for,),
        digest=(("sample", sampling_results.digest_lines),),
        work=(sampling_cover.SAMPLE_CASE_WORK,),
        year=(sampling_year.year_tables,),
    ),
    Feature(
        "learning visits",
        listeners=(handlers.visits.register,),
        reminders=(("learning visits", visit_jobs.send_visit_reminders),),
        todo=(visits.todo_for,),
        work=(visits_cover.VISIT_LEAD_WORK,),
    ),
    Feature(
        "themed audits",
        listeners=(handlers.themed_audits.register,),
        reminders=(("themed audits", themed_jobs.send_themed_audit_reminders),),
        todo=(themed_audits.todo_for,),
    ),
    Feature(
        "learning themes",
        listeners=(handlers.themes.register,),
        jobs=(themes_jobs.POST_LEARNING_THEMES_JOB,),
        reminders=(("learning themes", themes_jobs.send_theme_reminders),),
        todo=(themes_todo.todo_for,),
        digest=(("themes", themes_todo.digest_lines),),
        year=(themes_year.year_tables,),
    ),
    Feature(
        "Continuous Improvement Board",
        listeners=(handlers.cib.register,),
        jobs=(cib_jobs.CIB_DIGEST_JOB,),
        todo=(cib.todo_for,),
    ),
    Feature(
        "cover",
        listeners=(handlers.cover.register,),
        jobs=(cover.LIST_COVER_NEEDED_JOB,),
        todo=(_cover_todo,),
    ),
    Feature("App Home", listeners=(handlers.home.register,)),
    Feature("reports", listeners=(handlers.reports.register,)),
    Feature("retention", jobs=(retention.PURGE_OLD_RECORDS_JOB,)),
))
