"""Moderation that learns: the spam model's own path, spam waves across groups, and the admins'
labels that the model is retrained on.

- The model (handlers/rules/model.py, `rules.model`) judges what the rules let through; on its
  evidence alone a message gets at most `rules.model_action` (delete + warn), never a removal.
- Waves (handlers/rules/waves.py): a message punished in one group marks its near-duplicates in
  every group of this process for `rules.wave_hours` (in memory: a restart forgets them).
- Samples: each automatic decision stores the message's hashed grams (never its text), unlabelled.
  /undo, /unban and /pardon label them ham; /spam and /ban on a replied message label spam.
  `qunzhu rules-train --from-db` and the [learning] schedule retrain from base data + the labels.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import timedelta
from typing import TYPE_CHECKING

from handlers.rules import model as spam_model
from handlers.rules.waves import WaveMatch, WaveTracker
from storage import rules_repo

if TYPE_CHECKING:
    from handlers.rules.normalize import Views

log = logging.getLogger(__name__)

# Decisions whose message marks a wave: the rules' own evidence about the text (not flood, repeats
# or an admin's decision without the text, which say nothing about a near-duplicate elsewhere).
WAVE_CATEGORIES = frozenset({"link", "invite", "miniprogram", "contact", "qr", "ads", "fraud", "gambling", "porn"})


# --- the model -----------------------------------------------------------------------------------

async def model_of(ctx) -> spam_model.Model | None:
    """The group's model (reloaded when its file changes), or None: none set, or it cannot be
    loaded — then the admins are told once and the rules judge alone."""
    rs = ctx.settings.rules
    if not rs.model:
        return None
    path = ctx.app.config.resolve_path(rs.model)
    try:
        return spam_model.load(path)
    except (OSError, ValueError) as exc:
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        told = ctx.app.__dict__.setdefault("_rules_model_told", set())  # no audit read per message
        if (ctx.chat.key, str(path), error) not in told:
            told.add((ctx.chat.key, str(path), error))
            log.warning("rules.model %s cannot be loaded: %s", path, error)
            await ctx.tell_admins_once(f"rules.model:{path}", ctx.t("rules.model_unavailable", path=path, error=error))
        return None


def model_verdict(ctx, model: spam_model.Model, views: "Views", feats: frozenset[int]) -> float | None:
    """The model's probability when it flags the message, else None."""
    if model.hanzi_only and not spam_model.has_hanzi(views.text):
        return None
    threshold = ctx.settings.rules.model_threshold or model.threshold
    p = model.score_features(feats)
    return p if p >= threshold else None


# --- waves ---------------------------------------------------------------------------------------

def waves(app) -> WaveTracker:
    tracker = app.__dict__.get("_rules_waves")
    if tracker is None:
        tracker = app._rules_waves = WaveTracker()
    return tracker


def wave_of(ctx, views: "Views") -> WaveMatch | None:
    """A near-duplicate of a message punished lately in another group of this instance."""
    if not ctx.settings.rules.waves:
        return None
    found = waves(ctx.app).match(views, at=ctx.now, chat_key=ctx.chat.key)
    if found is None or found.same_chat:
        return None  # in its own group the rules and the repeat check already see it
    return found


def mark_wave(ctx, text: str, *, rule: str, category: str) -> None:
    """After commit: near-duplicates of this message are caught in every group for wave_hours."""
    rs = ctx.settings.rules
    if not rs.waves or category not in WAVE_CATEGORIES or not text:
        return
    tracker, chat_key, now = waves(ctx.app), ctx.chat.key, ctx.now
    ttl = timedelta(hours=rs.wave_hours)
    ctx.after_commit(lambda: tracker.remember(text, at=now, chat_key=chat_key, rule=rule, category=category, ttl=ttl))


def forget_waves(ctx, texts: list[str]) -> None:
    """After commit: decisions an admin took back stop marking their near-duplicates."""
    tracker, chat_key = waves(ctx.app), ctx.chat.key
    ctx.after_commit(lambda: [tracker.forget(text, chat_key=chat_key) for text in texts if text])


# --- samples and labels --------------------------------------------------------------------------

async def remember_decision(ctx, feats: frozenset[int] | None, audit_id: int | None, source: str, *,
                            label: str | None = None) -> None:
    """Keep the judged message's hashed grams with the decision, for the admins to label."""
    if not ctx.settings.rules.learn or not feats or audit_id is None:
        return
    await rules_repo.add_sample(ctx.session, chat_id=ctx.chat_row.id, audit_id=audit_id, source=source,
                                features=sorted(feats), features_version=spam_model.FEATURES_VERSION, now=ctx.now,
                                label=label, by=ctx.user.key if label else None)


async def label(ctx, audit_ids: list[int], value: str, *, unlabelled_only: bool = False) -> int:
    """The admins said what these decisions were: 'ham' (undone) or 'spam' (confirmed)."""
    return await rules_repo.label_samples(ctx.session, audit_ids, value, ctx.user.key, ctx.now,
                                          unlabelled_only=unlabelled_only)


# --- retraining ----------------------------------------------------------------------------------

def _held_out_sample(feats: list[int]) -> bool:
    """A fixed fifth of the admins' samples is kept aside to compare the new model with the old."""
    return zlib.crc32(",".join(map(str, feats)).encode()) % 5 == 0


async def retrain(config, sessions, *, say=print) -> bool:
    """Retrain the model from [learning] base_data and background_ham plus every labelled sample
    (training.train_and_save, as `qunzhu rules-train` does: a held-out fifth of the rows and
    of the samples kept aside), and write [learning] output unless the model already there does
    better on what was kept aside. True when a new model was written. Raises ValueError naming the
    [learning] key or file at fault."""
    from handlers.rules import training

    ls = config.learning
    try:
        base = training.read_labelled_csv(config.resolve_path(ls.base_data)) if ls.base_data else []
        ham = [t for path in ls.background_ham for t in training.read_background_ham(config.resolve_path(path))]
    except OSError as exc:
        raise ValueError(f"[learning] base_data/background_ham: cannot read {exc.filename}: {exc.strerror}") from None
    async with sessions() as session:
        stored = await rules_repo.labelled_samples(session, spam_model.FEATURES_VERSION)
    samples = [(label, frozenset(feats)) for label, feats in stored if not _held_out_sample(feats)]
    eval_samples = [(label, frozenset(feats)) for label, feats in stored if _held_out_sample(feats)]
    say(f"retraining on {len(base)} base rows, {len(ham)} background ham, {len(samples)} admins' samples "
        f"({len(eval_samples)} samples kept aside to compare) …")
    return await asyncio.to_thread(
        training.train_and_save, base, str(config.resolve_path(ls.output)), samples=samples, eval_samples=eval_samples,
        background_ham=ham, target_precision=ls.precision, source="[learning] base_data",
        output_name="[learning] output", say=say, progress=False)


async def tick(app) -> None:
    """On the scheduler's tick: forget old unlabelled samples (hourly) and retrain when due
    ([learning] enabled, every_hours passed and min_new_labels new labels since the last try)."""
    now = app.clock.now()
    state = app.__dict__.setdefault("_rules_learning", {"purged": None, "tried": None, "task": None})
    ls = app.config.learning
    if state["purged"] is None or now - state["purged"] >= timedelta(hours=1):
        state["purged"] = now
        async with app.work() as (session, _):
            await rules_repo.forget_unlabelled(session, now - timedelta(days=ls.forget_unlabelled_days))
    if not ls.enabled or (state["task"] is not None and not state["task"].done()):
        return
    if state["tried"] is not None and now - state["tried"] < timedelta(hours=ls.every_hours):
        return
    async with app.sessions() as session:
        new_labels = await rules_repo.labelled_since(session, state["tried"])
    if new_labels < ls.min_new_labels:
        return
    state["tried"] = now
    state["task"] = asyncio.create_task(_retrain_logged(app))


async def _retrain_logged(app) -> None:
    try:
        await retrain(app.config, app.sessions, say=lambda line: log.info("rules retrain: %s", line))
    except ValueError as exc:
        log.warning("rules retrain: %s", exc)
    except Exception:
        log.exception("rules retrain failed")
