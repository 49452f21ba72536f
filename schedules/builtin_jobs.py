"""Imports every module that registers jobs, then names the contract's jobs not built yet."""

from __future__ import annotations

import importlib
import importlib.util

from schedules.jobs import placeholder

JOB_MODULES = (
    "bot.learning_audits.proposals",
    "bot.learning_audits.service",
    "schedules.reminders",
    "bot.themes.service",
    "bot.sampling.service",
    "bot.commissions.service",
    "bot.retention.service",
)

CONTRACT_JOBS = {
    "open-proposals": "Ask every Service and Team Manager to propose learning-audit cases for the quarter",
    "send-reminders": "Remind people of proposals, reflections, audits and actions that are due",
    "allocate-learning-audits": "Allocate each Service Manager their independent learning-audit cases",
    "draw-random-sample": "Choose the quarter's service and draw the random sample for Q&I and PC pairs",
    "post-learning-themes": "Draft each service's learning themes for its Service Manager to review and post",
    "cib-digest": "Send the Continuous Improvement Board its digest before each meeting",
}

for _module in JOB_MODULES:
    if importlib.util.find_spec(_module) is not None:
        importlib.import_module(_module)

for _name, _description in CONTRACT_JOBS.items():
    placeholder(_name, _description)
