"""From the ``schedule`` sections of the site definitions to APScheduler jobs.

One job per site and spider, with the explicit id ``SITE:SPIDER``. A spider
gets a job when the site defines its part (``listing`` for ``articles``,
``top_stories`` for ``top_stories``) and its schedule is enabled.

``every`` becomes an interval trigger (in UTC), ``cron`` a cron trigger read
in the site's ``timezone``; both take the schedule's ``jitter``. The misfire
grace time of a job is half its period (the interval, or the gap between two
cron times), at least 1 second and at most 12 hours: a run that could not
start on time (the daemon was down, or every crawl slot was busy) still runs
if it is late by less than that, once however many times were missed
(``coalesce``); later than that it is skipped, and the job runs at its next
regular time, which is then at most half a period away.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sites.definitions import BUNDLED_SITES_DIR, SITES_DIR_ENV, Site, SpiderSchedule
from crawler.sites.durations import format_duration

SPIDER_PARTS = {"articles": "listing", "top_stories": "top_stories"}
MIN_GRACE_SECONDS = 1
MAX_GRACE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class JobSpec:
    """What the daemon schedules for one spider of one site."""

    site: str
    spider: str
    schedule: SpiderSchedule
    timezone: str
    timeout: float
    max_backoff: float = 6 * 3600.0  # the site's schedule.max_backoff

    @property
    def id(self) -> str:
        return f"{self.site}:{self.spider}"

    @property
    def kind(self) -> str:
        return "interval" if self.schedule.every is not None else "cron"

    def trigger(self) -> BaseTrigger:
        jitter = self.schedule.jitter or None
        if self.schedule.every is not None:
            return IntervalTrigger(seconds=self.schedule.every, jitter=jitter, timezone=UTC)
        assert self.schedule.cron is not None
        minute, hour, day, month, day_of_week = self.schedule.cron.split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=self.timezone,
            jitter=jitter,
        )

    def period(self, now: datetime | None = None) -> float:
        """Seconds between two runs (for cron: between the next two cron times)."""
        if self.schedule.every is not None:
            return self.schedule.every
        trigger = self.trigger_without_jitter()
        now = now or datetime.now(UTC)
        first = trigger.get_next_fire_time(None, now)
        second = trigger.get_next_fire_time(first, first) if first else None
        if first is None or second is None:
            return float(MAX_GRACE_SECONDS * 2)
        return (second - first).total_seconds()

    def trigger_without_jitter(self) -> BaseTrigger:
        spec = JobSpec(
            self.site,
            self.spider,
            self.schedule.model_copy(update={"jitter": 0.0}),
            self.timezone,
            self.timeout,
            self.max_backoff,
        )
        return spec.trigger()

    def misfire_grace_time(self, now: datetime | None = None) -> int:
        half = int(self.period(now) / 2)
        return max(MIN_GRACE_SECONDS, min(half, MAX_GRACE_SECONDS))

    def describe(self) -> str:
        """``every 15m, jitter 2m`` or ``cron '0 6 * * *' (Europe/Paris)``."""
        if self.schedule.every is not None:
            text = f"every {format_duration(self.schedule.every)}"
        else:
            text = f"cron '{self.schedule.cron}' ({self.timezone})"
        if self.schedule.jitter:
            text += f", jitter {format_duration(self.schedule.jitter)}"
        return text

    @property
    def signature(self) -> str:
        """The job's name in the job store: the job is replaced when it changes."""
        return f"{self.id} {self.describe()}"

    def first_run_time(self, now: datetime) -> datetime | None:
        """When a newly added job first runs: an interval job at once, a cron
        job at its next cron time."""
        if self.schedule.every is not None:
            return now
        return self.trigger().get_next_fire_time(None, now)


def site_job_specs(site: Site) -> list[JobSpec]:
    specs = []
    for spider, part in SPIDER_PARTS.items():
        schedule: SpiderSchedule = getattr(site.schedule, spider)
        if getattr(site, part) is None or not schedule.enabled:
            continue
        specs.append(
            JobSpec(
                site.name,
                spider,
                schedule,
                site.timezone,
                site.schedule.timeout,
                site.schedule.max_backoff,
            )
        )
    return specs


def scheduled_sites(sites: dict[str, Site], names: Iterable[str] | None = None) -> dict[str, Site]:
    """The sites a daemon schedules: the named ones, else every site of the
    user's folders (``NEWSCRAWL_SITES_DIR``). The bundled examples (``demo``,
    ``panarmenian``) run only when named: a daemon started without arguments
    never reaches out to a site nobody chose."""
    chosen = list(names or [])
    if chosen:
        return {name: sites[name] for name in chosen if name in sites}
    return {
        name: site
        for name, site in sites.items()
        if Path(site.source_file).parent != BUNDLED_SITES_DIR
    }


def shown_sites(
    sites: dict[str, Site], name: str | None = None, stored: Iterable[str] | None = None
) -> dict[str, Site]:
    """The sites whose jobs ``newscrawl schedule`` and ``newscrawl status``
    show, by one rule: the site named (as ``daemon --site NAME`` schedules
    it); else those a daemon started without ``--site`` schedules
    (:func:`scheduled_sites`) and those whose jobs are in the daemon's job
    store (``stored``: job ids; a daemon started with ``--site`` keeps them)."""
    if name is not None:
        return {name: sites[name]} if name in sites else {}
    chosen = scheduled_sites(sites)
    for job_id in stored or ():
        site = job_id.partition(":")[0]
        if site in sites:
            chosen.setdefault(site, sites[site])
    return dict(sorted(chosen.items()))


def why_no_jobs(sites: dict[str, Site], chosen: dict[str, Site]) -> str:
    """Why the ``chosen`` sites give a daemon no job, in one sentence: no site
    of the user's own, or none with an enabled schedule."""
    if chosen:
        return (
            f"no enabled schedule in the site definitions of {', '.join(sorted(chosen))} "
            "(schedule.articles and schedule.top_stories are enabled: false)"
        )
    bundled = ", ".join(sorted(sites)) or "none"
    folders = os.environ.get(SITES_DIR_ENV, "").strip()
    where = (
        f"{SITES_DIR_ENV} is not set"
        if not folders
        else f"no site definitions in {SITES_DIR_ENV} ({folders})"
    )
    return (
        f"{where}, and the bundled examples ({bundled}) are scheduled only when named "
        "(newscrawl daemon --site NAME)"
    )


def job_specs(sites: Iterable[Site]) -> list[JobSpec]:
    """Every job of these sites, sorted by site and spider."""
    return [spec for site in sorted(sites, key=lambda s: s.name) for spec in site_job_specs(site)]


@dataclass(frozen=True)
class JobPlan:
    """How the stored jobs must change to match the site definitions."""

    add: list[JobSpec]  # new, or changed schedule (replaced)
    keep: list[JobSpec]  # unchanged: the stored next run time stays
    remove: list[str]  # job ids of sites or spiders no longer scheduled


def plan_jobs(specs: list[JobSpec], stored: dict[str, str]) -> JobPlan:
    """``stored`` maps the ids of the stored jobs to their names (signatures)."""
    wanted = {spec.id: spec for spec in specs}
    add = [s for s in specs if stored.get(s.id) != s.signature]
    keep = [s for s in specs if stored.get(s.id) == s.signature]
    remove = sorted(job_id for job_id in stored if job_id not in wanted)
    return JobPlan(add, keep, remove)


def next_run(
    spec: JobSpec, stored: dict[str, datetime | None] | None, now: datetime
) -> tuple[datetime | None, str]:
    """(time, source) of a job's next run. Source ``job store``: as the daemon
    stored it; ``paused``: stored without a time; ``at daemon start``: a new
    interval job, run as soon as the daemon starts; ``computed``: the next
    cron time."""
    if stored is not None and spec.id in stored:
        when = stored[spec.id]
        return when, "job store" if when is not None else "paused"
    if spec.schedule.every is not None:
        return None, "at daemon start"
    return spec.first_run_time(now), "computed"
