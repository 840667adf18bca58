"""Every Prometheus metric of the bot, as named objects in one registry (`REGISTRY`).

Features and adapters import the object they need and increment it; `bot.health` serves
`REGISTRY` at `/metrics` in the text exposition format. Counts that belong to a database
transaction (a verdict, an onboarding outcome) are made after it commits — `scope.after_commit(fn)`
— so a retried or rolled-back transaction counts nothing. The one figure read from the
database (column posts by state) is collected at scrape time (`refresh_from_database`).

Names (all prefixed `qunzhu_`):
- updates_received_total{platform}   an update stored in the inbox (a redelivery is not counted)
- updates_handled_total{platform}    an update whose events all committed
- updates_failed_total{platform}     a database failure while handling (each retry counts once)
- updates_unparseable_total{platform,kind}  an update the platform library could not read
- intake_unavailable_total{platform} an update that could not be stored (not acknowledged)
- handler_seconds{router}            time of one router's handlers on one event (histogram)
- actions_total{platform,method,outcome}  outgoing actions: done | failed | uncertain
- rate_limited_total{platform}       the platform answered "too many requests" (Telegram 429, WeCom 45009 …)
- send_queue_waiting{platform}       sends waiting in the paced sender (gauge)
- moderation_verdicts_total{rule,action}  violations found by the rules, with the ladder's action
- onboarding_outcomes_total{outcome} done | skipped | removed | refused
- column_posts{state}                column_posts rows by state (gauge, read at scrape time)
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES_RECEIVED = Counter("qunzhu_updates_received", "Updates stored in the inbox", ["platform"], registry=REGISTRY)
UPDATES_HANDLED = Counter("qunzhu_updates_handled", "Updates handled and committed", ["platform"], registry=REGISTRY)
UPDATES_FAILED = Counter("qunzhu_updates_failed", "Database failures while handling an update (each retry)",
                         ["platform"], registry=REGISTRY)
UPDATES_UNPARSEABLE = Counter("qunzhu_updates_unparseable", "Updates the platform library could not read",
                              ["platform", "kind"], registry=REGISTRY)
INTAKE_UNAVAILABLE = Counter("qunzhu_intake_unavailable", "Updates that could not be stored (not acknowledged)",
                             ["platform"], registry=REGISTRY)
HANDLER_SECONDS = Histogram("qunzhu_handler_seconds", "Time of one router's handlers on one event", ["router"],
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                            registry=REGISTRY)
ACTIONS = Counter("qunzhu_actions", "Outgoing platform actions by outcome", ["platform", "method", "outcome"],
                  registry=REGISTRY)
RATE_LIMITED = Counter("qunzhu_rate_limited", "Answers of 'too many requests' (Telegram 429, WeCom 45009)",
                       ["platform"], registry=REGISTRY)
SEND_QUEUE = Gauge("qunzhu_send_queue_waiting", "Sends waiting in the paced sender", ["platform"], registry=REGISTRY)
VERDICTS = Counter("qunzhu_moderation_verdicts", "Violations found by the rules", ["rule", "action"], registry=REGISTRY)
ONBOARDING = Counter("qunzhu_onboarding_outcomes", "How questionnaires ended", ["outcome"], registry=REGISTRY)
COLUMN_POSTS = Gauge("qunzhu_column_posts", "column_posts rows by state", ["state"], registry=REGISTRY)

COLUMN_STATES = ("claimed", "sending", "sent", "failed", "skipped", "unknown")


async def refresh_from_database(app) -> None:
    """The figures read from the database at scrape time: column posts by state."""
    from storage import columns_repo

    async with app.sessions() as session:
        found = await columns_repo.count_by_state(session)
    counts = {state: 0 for state in COLUMN_STATES}
    counts.update(found)
    for state, n in counts.items():
        COLUMN_POSTS.labels(state=state).set(n)
