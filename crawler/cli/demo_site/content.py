"""The articles of DemoNews, the demo news site bundled with newscrawl.

Everything is built in Python at import time and is fully deterministic: the
generated articles come from templates filled in by ``random.Random(2021)``, so
every run produces the same 64 articles, byte for byte.

Three kinds of article live here:

* the SEED article (id 301042), a real PanARMENIAN.Net report reproduced
  verbatim, typos included, so that extraction can be checked against a known
  page;
* the four TOP STORIES (ids 301060-301063), whose headlines are copied verbatim
  from the "Top stories" block of that page and whose bodies only say that they
  are demo copies of wire items;
* 59 generated articles: neutral, fictional local news. All towns, people,
  clubs and companies in them are invented (Yerevan appears only as the
  capital that people travel to).

One of the generated articles also has a FIRST EDITION with a wrong figure in
one sentence: a server started with ``corrections=True`` serves it once, then
corrects it (see :mod:`.server`). The text every other server serves, and
that the first edition is checked against here, is the corrected one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from types import MappingProxyType

TIMEZONE = "Asia/Yerevan"
SEED_ARTICLE_ID = 301042
TOP_STORY_IDS = (301060, 301061, 301062, 301063)
PAGE_SIZE = 10
FIRST_ARTICLE_ID = 301000
ARTICLE_COUNT = 64
DEMO_DATELINE = "DemoNews - "
SEED_DATELINE = "PanARMENIAN.Net - "


def _load_zone() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - zoneinfo is stdlib since 3.9
        return timezone(timedelta(hours=4), "+04")
    try:
        return ZoneInfo(TIMEZONE)
    except ZoneInfoNotFoundError:  # pragma: no cover - no tz database installed
        # Armenia has kept UTC+4 without daylight saving time since 2012.
        return timezone(timedelta(hours=4), "+04")


TZ = _load_zone()

# (slug, display name), in navigation order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("politics", "Politics"),
    ("economy", "Economy"),
    ("society", "Society"),
    ("culture", "Culture"),
    ("sport", "Sport"),
    ("technology", "Technology"),
)
SECTION_NAMES = MappingProxyType(dict(SECTIONS))

TAG_POOL: tuple[str, ...] = (
    "Yerevan",
    "Elections",
    "Energy",
    "Football",
    "Startups",
    "Karabakh",
    "USA",
    "Turkey",
    "EU",
    "Russia",
    "Azerbaijan",
    "Diaspora",
    "Education",
    "Theatre",
    "Transport",
    "Tourism",
    "Environment",
)

# Fictional bylines of the generated articles. The seed and the wire items of
# the top stories are signed "Newsroom".
AUTHORS: tuple[str, ...] = (
    "Anna Hovsepyan",
    "David Arakelyan",
    "Lilit Baghdasaryan",
    "Tigran Melkonyan",
    "Sona Karapetyan",
    "Armen Vardanyan",
    "Nare Galstyan",
    "Hayk Manukyan",
)
NEWSROOM = "Newsroom"


@dataclass(frozen=True)
class DemoArticle:
    id: int
    slug_section: str
    section: str
    title: str
    short_title: str
    author: str
    published: datetime
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]
    dateline: str

    @property
    def url(self) -> str:
        """Root-relative canonical URL, e.g. ``/eng/news/301042/``."""
        return f"/eng/news/{self.id}/"

    @property
    def image_url(self) -> str:
        return f"/img/{self.id}.jpg"

    @property
    def section_url(self) -> str:
        return f"/eng/news/section/{self.slug_section}/"

    @property
    def teaser(self) -> str:
        """First sentence of the first paragraph, without the dateline."""
        first = self.paragraphs[0]
        if first.startswith(self.dateline):
            first = first[len(self.dateline) :]
        return first_sentence(first)

    @property
    def body_text(self) -> str:
        return "\n\n".join(self.paragraphs)


_CLOSING_PUNCT = ".!?"
_CLOSING_QUOTES = "\"'”’)"
_OPENING = '"“‘('


def first_sentence(text: str) -> str:
    """The first sentence of ``text``.

    A sentence ends at ``.``, ``!`` or ``?`` (optionally followed by a closing
    quote) when the next word starts with a capital letter, a digit or an
    opening quote. Initials and dotted abbreviations ("J.", "U.S.") do not end
    a sentence.
    """
    words = text.split()
    for index, word in enumerate(words[:-1]):
        core = word.rstrip(_CLOSING_QUOTES)
        if not core or core[-1] not in _CLOSING_PUNCT:
            continue
        stem = core.rstrip(_CLOSING_PUNCT)
        if len(stem) <= 1 or "." in stem:
            continue
        following = words[index + 1]
        if following[0].isupper() or following[0].isdigit() or following[0] in _OPENING:
            return " ".join(words[: index + 1])
    return " ".join(words)


def short_title_of(title: str, words: int) -> str:
    """The title cut to its first ``words`` words (a truncated copy, no ellipsis)."""
    return " ".join(title.split()[:words])


def tag_slug(tag: str) -> str:
    return "-".join(tag.lower().split())


# --------------------------------------------------------------------------
# The seed article, verbatim from PanARMENIAN.Net (typos kept on purpose).
# --------------------------------------------------------------------------

SEED_TITLE = 'Blinken, Cavusoglu hold "relatively long conversation" on Karabakh'
SEED_SHORT_TITLE = "Blinken, Cavusoglu hold"
SEED_PARAGRAPHS: tuple[str, ...] = (
    (
        "PanARMENIAN.Net - U.S. Secretary of State Antony J. Blinken and Turkish Foreign "
        'Minister Mevlüt Cavusoglu have had a "relatively long conversation about the Caucasus '
        '– Armenia, Azerbaijan, Nagorno-Karabakh", a senior State Department official told a '
        "briefing on Tuesday, September 21."
    ),
    (
        "The two met in New York City on the margins of the UN General Assembly earlier on "
        "Tuesday to discuss multiple areas of U.S.-Turkish cooperation."
    ),
    (
        '"So I think you know that in the wake of the Armenia-Azerbaijan war earlier this '
        "spring, the U.S. has tried to be helpful in supporting a peace and reconciliation "
        "conversation between the two of them. We participated in a swap of – we midwifed a "
        "swap of some demining maps that the Armenians turned over to the Azerbaijanis for the "
        'release of some detainees," the unnamed official told reporters.'
    ),
    (
        '"So the question now becomes whether, with U.S. support, with other Minsk Group '
        "countries’ support, with Turkey’s support, we can do more to facilitate a "
        "de-escalation of tensions between the two, both along the border, with regard to "
        "remaining detainees, with regard to remaining mines, and then take some – see them – "
        "help them take some small steps which might lay the path towards a larger peace and "
        'reconciliation process."'
    ),
    (
        "According to senior official, Blinken he Secretary made clear to Turkey, which has "
        "been very much involved in this and is a neighbor, that the U.S. is prepared to be "
        "helpful if it can be."
    ),
    (
        '"We are also at a level below the Secretary having bilateral meetings with the '
        'Armenians and the Azerbaijanis this week and making the same offer there," the '
        "official said."
    ),
)
SEED_PUBLISHED = datetime(2021, 9, 21, 23, 40, tzinfo=TZ)
SEED_TAGS = ("Karabakh", "USA", "Turkey")

# --------------------------------------------------------------------------
# The four top stories: headlines verbatim from the seed page's block.
# --------------------------------------------------------------------------

TOP_STORY_TITLES: tuple[str, ...] = (
    (
        "The EU does not intend to conduct military exercises with Armenia, Lead Spokesperson "
        "for EU Foreign Affairs and Security Policy Peter Stano says."
    ),
    (
        "Hikmet Hajiyev has said that there is no place for USAID operation in Azerbaijan any "
        "longer."
    ),
    (
        "A telephone conversation between Putin and Pashinyan before the CSTO summit is not "
        "planned, Peskov says."
    ),
    (
        "London’s Armenian community has been left feeling “under attack” after the city’s "
        "Genocide monument was vandalised."
    ),
)
_TOP_STORY_META: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("politics", ("EU",)),
    ("politics", ("Azerbaijan", "USA")),
    ("politics", ("Russia",)),
    ("society", ("Diaspora",)),
)
_RANK_WORDS = ("first", "second", "third", "fourth")


def _top_story_paragraphs(title: str, rank: int, published: datetime) -> tuple[str, ...]:
    day = published.strftime("%B %d, %Y")
    return (
        f"{DEMO_DATELINE}{title} This demo article stands in for the wire report that carried "
        f"the item on {day}. Only the headline of the original is kept on this site, and the "
        "full text of the report is not reproduced here.",
        "The headline above is shown exactly as it appeared in the Top stories block of the "
        "original page, with its punctuation and quotation marks unchanged. It gives crawlers a "
        "realistic mix of long and short headlines to work with, and it makes no claim about the "
        "events it describes.",
        "Readers looking for the complete report should consult the original publisher. Nothing "
        "in this demo copy adds to, interprets or updates the wire item, and no statements have "
        "been added on behalf of the people or institutions named in the headline.",
        f"This item is ranked {_RANK_WORDS[rank - 1]} among the Top stories shown on the DemoNews "
        "home page and at the foot of every article. The ranking never changes, so a test that "
        "reads the block can rely on finding the same order on every run of the demo site.",
    )


# --------------------------------------------------------------------------
# Generated fictional local news.
# --------------------------------------------------------------------------

_PLACES = ("Lakeview", "Stonebridge", "Northgate", "Hillcrest", "Riverside", "Eastfield")
_DISTRICTS = (
    "Old Mill",
    "Market Square",
    "East Park",
    "Canal Street",
    "Orchard Hill",
    "Station Road",
)
_PEOPLE = (
    "Mariam Tevosyan",
    "Levon Asatryan",
    "Gayane Simonyan",
    "Ruben Khachatryan",
    "Anahit Grigoryan",
    "Suren Poghosyan",
    "Elen Davtyan",
    "Vahe Mkrtchyan",
    "Narine Avagyan",
    "Artur Gasparyan",
    "Lusine Hakobyan",
    "Samvel Zakaryan",
)
_PLAYERS = (
    "Davit Ohanyan",
    "Erik Nazaryan",
    "Gevorg Aslanyan",
    "Narek Sahakyan",
    "Aram Torosyan",
    "Edgar Movsisyan",
)
_CLUBS = (
    "Lakeview Athletic",
    "Stonebridge United",
    "Northgate City",
    "Hillcrest Wanderers",
    "Riverside Rovers",
    "Eastfield FC",
)
_COMPANIES = (
    "Brightfield Labs",
    "Copperleaf Software",
    "Apricot Analytics",
    "Orbitline",
    "Stonewise Systems",
    "Greenpixel",
)
_PRODUCTS = (
    ("farm sensor platform", "sensors that help farmers measure soil moisture"),
    ("delivery tracking app", "software that lets small shops follow their deliveries"),
    ("language learning app", "an app that teaches languages in short daily lessons"),
)
_FESTIVALS = ("Autumn Stage", "Open Curtain", "Little Stage", "Lakeside Drama", "New Voices")
_RIVERS = ("Silver River", "Willow River", "Mill Stream", "Stone Brook")
_BUDGET_FOCUS = (
    ("street lighting", "Energy"),
    ("school repairs", "Education"),
    ("public transport", "Transport"),
    ("parks and green spaces", "Environment"),
    ("road maintenance", "Transport"),
)
_POSITIONS = ("second", "third", "fourth", "fifth")


def _facts(rng: random.Random, published: datetime) -> dict[str, object]:
    """Slot values for one article; always consumes the same number of draws,
    in the same order: the people, places and teams here, then the figures."""
    official, official2 = rng.sample(_PEOPLE, 2)
    home, away = rng.sample(_CLUBS, 2)
    focus, focus_tag = rng.choice(_BUDGET_FOCUS)
    product, product_desc = rng.choice(_PRODUCTS)
    ga = rng.randint(0, 2)
    gh = ga + rng.randint(1, 2)
    turnout = rng.randint(38, 57)
    ticket_low = rng.randrange(1000, 3000, 500)
    cast = {
        "weekday": published.strftime("%A"),
        "place": rng.choice(_PLACES),
        "district": rng.choice(_DISTRICTS),
        "official": official,
        "official2": official2,
        "home": home,
        "away": away,
        "gh": gh,
        "ga": ga,
        "gd": rng.randint(1, 2),
        "scorer": rng.choice(_PLAYERS),
        "position": rng.choice(_POSITIONS),
        "crowd": f"{rng.randrange(900, 4500, 50):,}",
        "company": rng.choice(_COMPANIES),
        "product": product,
        "product_desc": product_desc,
        "festival": rng.choice(_FESTIVALS),
        "river": rng.choice(_RIVERS),
        "focus": focus,
        "focus_tag": focus_tag,
    }
    return cast | _figures(rng, turnout, ticket_low)


def _figures(rng: random.Random, turnout: int, ticket_low: int) -> dict[str, object]:
    """The numbers of one article's slots, drawn after its cast (:func:`_facts`)."""
    return {
        "amount": rng.randrange(120, 960, 10),
        "votes_for": rng.randint(17, 25),
        "votes_against": rng.randint(3, 9),
        "turnout": turnout,
        "turnout_prev": turnout - rng.randint(4, 11),
        "routes": rng.randint(5, 14),
        "minutes": rng.randint(4, 12),
        "count": rng.randint(25, 140),
        "mw": rng.randint(5, 40),
        "percent_high": rng.randint(78, 94),
        "staff": rng.randint(8, 45),
        "grant": rng.randint(3, 9),
        "jobs": rng.randint(20, 90),
        "months": rng.randint(8, 18),
        "books": f"{rng.randint(8, 24)},000",
        "schools": rng.randint(6, 19),
        "trees": rng.randrange(150, 800, 10),
        "volunteers": rng.randint(60, 240),
        "group": rng.randint(12, 35),
        "signatures": f"{rng.randrange(800, 3000, 50):,}",
        "shows": rng.randint(12, 28),
        "publishers": rng.randint(30, 75),
        "singers": rng.randint(28, 55),
        "players": rng.randint(90, 260),
        "runners": f"{rng.randrange(600, 2400, 50):,}",
        "seats": f"{rng.randrange(800, 2500, 100):,}",
        "students": rng.randint(18, 40),
        "stops": rng.randint(15, 60),
        "buildings": rng.randint(10, 40),
        "teams": rng.randint(9, 24),
        "ticket_low": f"{ticket_low:,}",
        "ticket_high": f"{ticket_low + rng.randrange(1000, 4000, 500):,}",
    }


@dataclass(frozen=True)
class _Topic:
    title: str
    lead: str
    details: tuple[str, ...]
    tags: tuple[str, ...]


_TOPICS: dict[str, tuple[_Topic, ...]] = {
    "politics": (
        _Topic(
            "{place} council approves next year's budget with more money for {focus}",
            "The {place} city council on {weekday} approved next year's budget, setting aside "
            "{amount} million drams for {focus} and leaving most other spending lines unchanged.",
            (
                "The vote passed by {votes_for} to {votes_against}, with several members saying "
                "they wanted clearer reporting on how the new money will be spent.",
                "{official}, who chairs the council's finance committee, said the plan rested on "
                "cautious revenue forecasts and kept a small reserve for unexpected costs.",
                "Opposition members argued that the increase for {focus} should have been "
                "balanced by savings elsewhere, but their amendment was rejected.",
                "Residents will be able to follow spending through quarterly reports that the "
                "council has promised to publish online.",
                "The budget also includes a modest rise in grants for neighbourhood associations, "
                "which can apply from the start of the year.",
            ),
            ("{focus_tag}",),
        ),
        _Topic(
            "Turnout rises in {place} by-election for the {district} seat",
            "Voters in the {district} area of {place} went to the polls on {weekday} in a council "
            "by-election that drew more people than the previous contest, the local election "
            "commission said.",
            (
                "Preliminary figures put turnout at {turnout} percent, up from {turnout_prev} "
                "percent at the last regular election.",
                "Three candidates stood for the seat, which fell vacant when the previous member "
                "took a post in the regional administration.",
                "{official}, who heads the local commission, said polling stations opened on time "
                "and that no serious complaints had been filed.",
                "Observers from two civic groups visited most polling stations and said they would "
                "publish a short report next week.",
                "Final results are expected within three days, once the ballots from mobile "
                "polling stations have been counted.",
            ),
            ("Elections",),
        ),
        _Topic(
            "Council committee hears residents on new bus routes in {place}",
            "Residents of {place} filled a council committee room on {weekday} to comment on a "
            "proposal to redraw {routes} bus routes across the town.",
            (
                "The plan would add a direct line between the {district} area and the central "
                "station, while merging two routes that planners say overlap.",
                "Several speakers asked for later evening services, saying the last buses leave "
                "too early for shift workers.",
                "{official}, who sits on the transport committee, said every comment would be "
                "logged and answered in writing.",
                "Planners estimate that the changes would cut the average journey by about "
                "{minutes} minutes.",
                "The committee will send a revised plan to the full council before the winter "
                "timetable is drawn up.",
            ),
            ("Transport",),
        ),
        _Topic(
            "{place} mayoral candidates agree to hold three public debates",
            "The candidates running for mayor of {place} agreed on {weekday} to take part in three "
            "public debates before the vote, the town's election commission said.",
            (
                "The debates will be held in a school hall, a library and a sports centre, so that "
                "residents of different neighbourhoods can attend.",
                "Each debate will focus on one theme: local transport, housing and the town's "
                "finances.",
                "{official}, who heads the commission, said the format had been agreed with all "
                "campaigns at a short meeting.",
                "A local radio station will broadcast the debates live, and recordings will be "
                "posted online the following day.",
                "Questions from the audience will be collected in writing at the door and read out "
                "by a moderator.",
            ),
            ("Elections",),
        ),
        _Topic(
            "Student volunteers launch voter information drive in {place}",
            "A group of {group} student volunteers began a voter information drive in {place} on "
            "{weekday}, setting up stalls outside colleges and libraries.",
            (
                "The volunteers explain how to check voter lists, where polling stations are and "
                "which documents are needed on election day.",
                "Organisers said the campaign was strictly non-partisan and that volunteers had "
                "been asked not to discuss candidates.",
                "{official}, a lecturer who helped train the volunteers, said many first-time "
                "voters were unsure how the process worked.",
                "The stalls will be open every weekday afternoon until the end of the month.",
                "Similar drives in previous years helped raise turnout among young residents, "
                "according to the town's election commission.",
            ),
            ("Elections", "Education"),
        ),
    ),
    "economy": (
        _Topic(
            "New solar park near {place} starts feeding the regional grid",
            "A solar park on the outskirts of {place} began supplying electricity to the regional "
            "grid on {weekday}, its operator said.",
            (
                "The park has a capacity of {mw} megawatts, enough to cover the daytime needs of "
                "several thousand households.",
                "It was built on a former gravel quarry that had stood unused for more than a "
                "decade.",
                "{official}, the project manager, said construction had finished ahead of schedule "
                "despite delays in the delivery of some panels.",
                "The operator has agreed to pay a yearly fee to the town, which plans to spend it "
                "on street repairs.",
                "Local schools will be able to organise visits to the site to learn how solar "
                "power works.",
            ),
            ("Energy", "Environment"),
        ),
        _Topic(
            "Hotels in {place} report their busiest September in years",
            "Hotels and guesthouses in {place} had their busiest September in years, with "
            "occupancy reaching about {percent_high} percent, the local tourism office said on "
            "{weekday}.",
            (
                "Many of the visitors came from other parts of the country, drawn by hiking trails "
                "and the town's old covered market.",
                "Guesthouse owners said bookings from abroad were also recovering, though more "
                "slowly.",
                "{official}, who runs a family guesthouse near the {district} area, said this had "
                "been the best season since it opened.",
                "The tourism office plans to stretch the season with autumn walking tours and a "
                "food festival.",
                "Some residents have asked for better parking arrangements near the most popular "
                "sights.",
            ),
            ("Tourism",),
        ),
        _Topic(
            "{place} opens a second round of small business grants",
            "The {place} administration opened a second round of grants for small businesses on "
            "{weekday}, with {amount} million drams available for firms with fewer than {staff} "
            "employees.",
            (
                "Applicants can ask for up to {grant} million drams to buy equipment, renovate "
                "premises or train staff.",
                "Priority will be given to projects that create new jobs or help businesses switch "
                "to cleaner energy.",
                "{official}, who oversees the programme, said more than {count} firms received "
                "support in the first round.",
                "Applications must be submitted online, and the town has set up a help desk for "
                "owners who need assistance with the forms.",
                "Results will be announced within six weeks of the closing date.",
            ),
            ("Startups",),
        ),
        _Topic(
            "Utility outlines its winter heating plan for {place} households",
            "The regional utility presented its winter heating plan for {place} on {weekday}, "
            "promising to finish pipe repairs in the {district} area before the first cold days.",
            (
                "About {count} buildings are connected to the district heating network, most of "
                "them built in the 1970s and 1980s.",
                "The utility said it had replaced several kilometres of old pipes over the summer "
                "to reduce losses.",
                "{official}, a spokesperson for the utility, said tariffs would stay at last "
                "year's level for the coming season.",
                "Residents' groups asked for clearer information about planned outages during the "
                "remaining repair work.",
                "The utility will run an information line and post updates on its website "
                "throughout the winter.",
            ),
            ("Energy",),
        ),
        _Topic(
            "Freight terminal expansion near {place} set to cut delivery times",
            "Work began on {weekday} to expand a freight terminal near {place}, a project its "
            "owners say will cut delivery times for local producers to Yerevan by up to a day.",
            (
                "The expansion will add new loading bays, a cold storage hall and a rail siding.",
                "Fruit growers and dairy producers in the area say faster deliveries would help "
                "them sell more fresh goods in the capital.",
                "{official}, the terminal's director, said about {jobs} new jobs would be created "
                "once the expansion is complete.",
                "The project is financed by a bank loan and a grant from the regional development "
                "programme.",
                "Construction is expected to take about {months} months, with the cold storage "
                "hall opening first.",
            ),
            ("Transport", "Yerevan"),
        ),
    ),
    "society": (
        _Topic(
            "New public library opens in {place}'s {district} district",
            "A new public library opened in the {district} district of {place} on {weekday}, with "
            "{books} books, a children's reading room and a small study hall.",
            (
                "The library occupies the ground floor of a renovated former post office, which "
                "had stood empty for several years.",
                "It is open from ten in the morning until eight in the evening, including on "
                "Saturdays.",
                "{official}, the head librarian, said the collection would grow steadily through "
                "donations and a yearly purchase budget.",
                "Children from nearby schools were the first visitors, taking part in a reading "
                "session on the opening day.",
                "The library also offers free computer access and weekly classes for older "
                "residents who want to learn basic digital skills.",
            ),
            ("Education",),
        ),
        _Topic(
            "{schools} schools in {place} finish their summer renovations in time",
            "Renovation work at {schools} schools in {place} was completed in time for the new "
            "school year, the town's education department said on {weekday}.",
            (
                "The work included new windows, repaired roofs and modernised heating systems in "
                "the oldest buildings.",
                "Several schools also received new sports equipment and refurbished canteens.",
                "{official}, who heads the education department, said the renovations would reduce "
                "heating costs over the winter.",
                "Parents' committees were invited to inspect the buildings before the first day of "
                "classes.",
                "A second phase covering the remaining schools is planned for next summer.",
            ),
            ("Education",),
        ),
        _Topic(
            "Volunteers plant {trees} trees along the {river} embankment in {place}",
            "More than {volunteers} volunteers planted {trees} young trees along the {river} "
            "embankment in {place} on {weekday}, in a project organised by local environmental "
            "groups.",
            (
                "The saplings, mostly lime, maple and walnut, were grown in a municipal nursery.",
                "Organisers said each tree had been assigned to a family or a school class that "
                "will water it during its first summer.",
                "{official}, who coordinated the event, said the embankment had lost many trees to "
                "storms in recent years.",
                "The town has promised to install a watering system along the path next spring.",
                "A second planting day is planned for later in the autumn, when more volunteers "
                "are expected to join.",
            ),
            ("Environment",),
        ),
        _Topic(
            "Diaspora volunteers spend the summer teaching in {place} schools",
            "A group of {group} volunteers from diaspora communities finished a summer programme "
            "in {place} on {weekday}, after six weeks of teaching English, music and computer "
            "skills.",
            (
                "The volunteers, most of them university students, stayed with local families "
                "during the programme.",
                "Lessons were held in the mornings, while afternoons were set aside for sports, "
                "excursions and rehearsals for a final concert.",
                "{official}, who coordinated the programme in {place}, said several volunteers had "
                "already asked to return next year.",
                "Teachers said the programme had helped pupils gain confidence in speaking foreign "
                "languages.",
                "The organisers plan to extend the programme to two more towns next summer.",
            ),
            ("Diaspora", "Education"),
        ),
        _Topic(
            "Night bus service in {place} extended after a residents' petition",
            "The {place} transport department agreed on {weekday} to extend night bus services to "
            "the {district} area, after a petition signed by more than {signatures} residents.",
            (
                "Two buses will run every hour between midnight and five in the morning on "
                "weekdays, and every half hour at weekends.",
                "Shift workers at the hospital and at several factories had asked for the change "
                "for years.",
                "{official}, who started the petition, said the decision showed that residents' "
                "voices could make a difference.",
                "The new timetable will be tested for three months before a final decision is "
                "made.",
                "Fares will be the same as for daytime services.",
            ),
            ("Transport",),
        ),
    ),
    "culture": (
        _Topic(
            "{festival} theatre festival opens in {place} with {shows} productions",
            "The {festival} theatre festival opened in {place} on {weekday}, bringing together "
            "{shows} productions from across the country over ten days.",
            (
                "The programme includes classic comedies, new plays by young writers and two "
                "productions for children.",
                "Most performances take place at the town's drama theatre, while smaller shows are "
                "staged in a former textile factory.",
                "{official}, the festival director, said this year's theme was friendship between "
                "generations.",
                "Workshops for drama students will be held every morning, led by visiting "
                "directors and actors.",
                "The festival ends with an awards evening at which the audience votes for the best "
                "production.",
            ),
            ("Theatre",),
        ),
        _Topic(
            "Children's theatre in {place} stages a new puppet show",
            "The children's theatre in {place} premiered a new puppet show on {weekday}, based on "
            "a folk tale about a clever shepherd and a greedy king.",
            (
                "The puppets were made by hand in the theatre's own workshop over four months.",
                "The show lasts about fifty minutes and is recommended for children aged four and "
                "above.",
                "{official}, who directed the production, said the team wanted to introduce young "
                "audiences to stories their grandparents knew.",
                "Schools can book morning performances at reduced prices on weekdays.",
                "The theatre plans to take the production on a short tour of nearby villages in "
                "the spring.",
            ),
            ("Theatre", "Education"),
        ),
        _Topic(
            "Book fair in {place} draws {publishers} publishers from across the country",
            "More than {publishers} publishers set up stands at the annual book fair in {place}, "
            "which opened on {weekday} in the town's central square.",
            (
                "Visitors can find new novels, poetry collections, children's books and "
                "translations of foreign authors.",
                "Authors will hold readings and signing sessions each afternoon in a tent next to "
                "the fountain.",
                "{official}, one of the organisers, said sales of children's books had grown "
                "strongly over the past two years.",
                "Libraries from the region will receive a share of the books donated by publishers "
                "at the end of the fair.",
                "Entry is free, and the fair stays open until nine in the evening.",
            ),
            ("Education",),
        ),
        _Topic(
            "{place} museum opens an exhibition of restored folk costumes",
            "The town museum in {place} opened an exhibition of {count} restored folk costumes on "
            "{weekday}, many of them shown to the public for the first time.",
            (
                "The costumes, some more than a century old, were donated by local families over "
                "several decades.",
                "A team of restorers spent two years cleaning and repairing the fabrics and "
                "embroidery.",
                "{official}, the museum's curator, said each costume told a story about the "
                "village where it was made.",
                "The exhibition includes a workshop corner where visitors can try traditional "
                "embroidery stitches.",
                "It will remain open until the end of the year, and guided tours are available in "
                "several languages.",
            ),
            ("Tourism",),
        ),
        _Topic(
            "{place} youth choir to perform in Yerevan next month",
            "The youth choir of {place} will give a concert in Yerevan next month, its conductor "
            "announced on {weekday}, after the choir won a regional competition in the summer.",
            (
                "The choir has {singers} members aged between twelve and eighteen, who rehearse "
                "three evenings a week.",
                "The programme includes folk songs, sacred music and a new piece written for the "
                "choir by a local composer.",
                "{official}, the choir's conductor, said many of the singers would be performing "
                "in the capital for the first time.",
                "Parents and local businesses have helped raise money for the bus and "
                "accommodation.",
                "Before the trip, the choir will give a free preview concert at the {place} "
                "cultural centre.",
            ),
            ("Yerevan",),
        ),
    ),
    "sport": (
        _Topic(
            "{home} beat {away} {gh}-{ga} in the regional league",
            "{home} beat {away} {gh}-{ga} at home on {weekday}, moving up to {position} place in "
            "the regional league table.",
            (
                "{scorer} opened the scoring midway through the first half with a low shot from "
                "the edge of the penalty area.",
                "The visitors improved after the break and created several chances, but the home "
                "goalkeeper made a string of saves.",
                "The home coach, {official}, praised the team's discipline and said the squad was "
                "growing in confidence.",
                "About {crowd} spectators attended the match, one of the largest crowds of the "
                "season.",
                "{away} will try to recover next weekend, when they host one of the league "
                "leaders.",
            ),
            ("Football",),
        ),
        _Topic(
            "{home} and {away} share the points in a {gd}-{gd} draw",
            "{home} and {away} drew {gd}-{gd} on {weekday} in a lively regional league match that "
            "left both teams in mid-table.",
            (
                "{scorer} put the hosts ahead early on, but the visitors equalised shortly before "
                "half-time.",
                "Both teams had chances to win the game in the closing minutes, and one shot hit "
                "the crossbar.",
                "{official}, the home coach, said a draw was a fair result against well-organised "
                "opponents.",
                "Around {crowd} fans watched the match in mild autumn weather.",
                "The two sides will meet again in the cup in November.",
            ),
            ("Football",),
        ),
        _Topic(
            "Youth chess tournament in {place} draws {players} players",
            "A youth chess tournament in {place} drew {players} players aged between eight and "
            "eighteen on {weekday}, the largest field in the event's history.",
            (
                "Games were played in the hall of the town's main school, with separate sections "
                "for different age groups.",
                "Many of the players train at local clubs, and several schools in the town offer "
                "chess lessons.",
                "{official}, the chief arbiter, said the level of play had risen noticeably in "
                "recent years.",
                "Winners in each section received books and a place at a national training camp.",
                "The tournament will be held again in the spring, with a team competition added "
                "to the programme.",
            ),
            ("Education",),
        ),
        _Topic(
            "Half marathon to close central streets in {place} at the weekend",
            "Several central streets in {place} will be closed to traffic for the town's annual "
            "half marathon at the weekend, organisers said on {weekday}.",
            (
                "About {runners} runners have registered for the main race, and several hundred "
                "more for a shorter fun run.",
                "Closures will begin at seven in the morning, and roads are expected to reopen by "
                "early afternoon.",
                "{official}, the race director, said extra buses would run on diversion routes "
                "during the event.",
                "Water stations and first aid points will be set up every few kilometres along the "
                "course.",
                "Part of the entry fees will go to a local charity that supports sports clubs for "
                "children with disabilities.",
            ),
            ("Transport",),
        ),
        _Topic(
            "{home} stadium to get a new covered stand before spring",
            "{home} announced on {weekday} that work would begin next month on a new covered "
            "stand at its home stadium, with room for about {seats} spectators.",
            (
                "The club said the project would be paid for by the town, a regional sports fund "
                "and a group of local sponsors.",
                "The old uncovered terrace, built more than forty years ago, will be demolished "
                "first.",
                "{official}, the club's chairman, said supporters had waited a long time for "
                "better conditions on match days.",
                "During the works, home games will be played with a reduced capacity.",
                "The new stand will also include changing rooms for the club's youth teams.",
            ),
            ("Football",),
        ),
    ),
    "technology": (
        _Topic(
            "{company} raises seed funding for its {product}",
            "{company}, a startup based in {place}, said on {weekday} it had raised seed funding "
            "to develop {product_desc}.",
            (
                "The company did not disclose the amount but said the round was led by a regional "
                "investment fund.",
                "Its first customers are in {place} and two neighbouring towns, where the service "
                "has been tested since the spring.",
                "{official}, the company's co-founder, said early users had given detailed "
                "feedback that shaped the current version.",
                "The startup employs {staff} people and plans to double its team over the next "
                "year.",
                "It hopes to offer the service in neighbouring countries from next year.",
            ),
            ("Startups",),
        ),
        _Topic(
            "Free coding courses for teenagers launch in {place}",
            "Free evening coding courses for teenagers began in {place} on {weekday}, with "
            "{students} students enrolled in the first group.",
            (
                "The courses cover web design, basic programming and simple robotics, and run for "
                "twelve weeks.",
                "Classes take place in a renovated room at the town library, equipped with donated "
                "laptops.",
                "{official}, one of the instructors, said many students had never written a line "
                "of code before.",
                "Local technology firms have offered internships to the best students at the end "
                "of the course.",
                "A second group will start in January, and registration is already open.",
            ),
            ("Education", "Startups"),
        ),
        _Topic(
            "Free public Wi-Fi reaches {stops} more bus stops in {place}",
            "Free public Wi-Fi is now available at {stops} more bus stops in {place}, the town's "
            "digital services office said on {weekday}.",
            (
                "The network now covers most of the central streets and the main squares.",
                "Users need to register once with a phone number, and each session lasts up to an "
                "hour.",
                "{official}, who manages the project, said the network had been used by several "
                "thousand people in its first month.",
                "The next phase will bring Wi-Fi to parks and to the {district} area.",
                "Officials said the network was built with equipment that uses very little "
                "electricity.",
            ),
            ("Transport",),
        ),
        _Topic(
            "Utility tests smart electricity meters in {buildings} {place} buildings",
            "The regional electricity utility has installed smart meters in {buildings} apartment "
            "buildings in {place} as part of a pilot project, it said on {weekday}.",
            (
                "The meters send readings automatically, so residents no longer need to submit "
                "them each month.",
                "Households can follow their daily consumption on a website and in a mobile app.",
                "{official}, the pilot's technical lead, said early data showed some families were "
                "already shifting use to cheaper night hours.",
                "The utility will decide next year whether to roll out the meters across the "
                "region.",
                "Residents who prefer not to take part can keep their old meters during the pilot.",
            ),
            ("Energy",),
        ),
        _Topic(
            "{teams} teams pitch their ideas at the {place} startup demo day",
            "{teams} young teams presented their ideas to investors and mentors at a startup demo "
            "day in {place} on {weekday}.",
            (
                "Projects ranged from a marketplace for local craftspeople to a tool that helps "
                "schools plan bus routes.",
                "Each team had five minutes to present and five minutes to answer questions from "
                "the jury.",
                "{official}, who leads the accelerator programme, said the quality of the pitches "
                "had improved sharply since last year.",
                "Three teams won places in a six-month programme that includes mentoring and "
                "office space.",
                "Organisers said several investors had asked to meet teams that did not win "
                "prizes.",
            ),
            ("Startups",),
        ),
        _Topic(
            "{place} software firm {company} opens an office in Yerevan",
            "{company}, a software firm founded in {place}, opened its first office in Yerevan "
            "on {weekday}, saying it wanted to be closer to clients and to the capital's "
            "universities.",
            (
                "The company builds accounting tools for small businesses and employs about "
                "{staff} people.",
                "The new office will at first house a team of developers and a customer support "
                "group.",
                "{official}, the company's chief executive, said the headquarters would remain in "
                "{place}.",
                "The firm plans to offer paid internships to students from both cities.",
                "Local officials in {place} said they were pleased to see a home-grown company "
                "grow.",
            ),
            ("Startups", "Yerevan"),
        ),
    ),
}

# Context sentences shared by every article of a section.
_SECTION_SENTENCES: dict[str, tuple[str, ...]] = {
    "politics": (
        "Council meetings in {place} are open to the public, and recordings are usually posted "
        "online within a day.",
        "{official2}, a member of the opposition group on the council, said the debate had been "
        "constructive despite clear disagreements.",
        "The mayor's office said it welcomed scrutiny and would answer written questions from "
        "members before the next session.",
        "Parties represented on the council have agreed to hold a joint public meeting on the "
        "issue in the {district} area.",
        "Under the council's rules, a proposal of this kind must be read twice before it can be "
        "adopted.",
        "Civic groups said they would monitor how the decision is carried out and publish their "
        "own assessment.",
        "The next regular session of the council is scheduled for the first week of next month.",
        "Local analysts said the episode showed how closely residents now follow everyday "
        "municipal issues.",
    ),
    "economy": (
        "Business owners in {place} have reported a gradual recovery in customer numbers since "
        "the spring.",
        "The regional chamber of commerce said it expected investment in the area to grow "
        "modestly next year.",
        "Analysts at a local consultancy said rising costs for fuel and materials remained the "
        "main risk for small firms.",
        "Banks in the region have reported steady demand for small business loans, particularly "
        "from family companies.",
        "The {place} employment office said it had registered {jobs} new vacancies in the past "
        "month.",
        "Exporters said better roads and faster customs checks would make the biggest difference "
        "to their costs.",
        "Economists cautioned that a single good season does not guarantee long-term growth.",
        "The regional development agency plans to publish a full report on the local economy "
        "before the end of the year.",
    ),
    "society": (
        "Neighbourhood associations in {place} have become more active over the past two years, "
        "organising clean-ups and holiday events.",
        "{official2}, who runs a residents' group in the {district} area, said people wanted "
        "services close to home.",
        "Social workers said the change would be especially welcome for older residents and "
        "families with young children.",
        "The town has set up a hotline for questions, staffed from nine in the morning until six "
        "in the evening.",
        "Volunteers from local schools and youth clubs have offered to help spread the word.",
        "A survey carried out by the council in the spring found strong support for the idea "
        "among residents of all ages.",
        "Similar services in neighbouring districts have proved popular, with waiting lists "
        "forming within weeks.",
        "Residents can leave feedback through a short online form or at the district office.",
    ),
    "culture": (
        "Tickets cost between {ticket_low} and {ticket_high} drams, with free entry for "
        "schoolchildren.",
        "The {place} arts council has supported the event with a small grant for the second year "
        "running.",
        "Critics have praised the programme for mixing well-known classics with new work by young "
        "artists.",
        "Organisers said they hoped to attract visitors from other towns as well as local "
        "audiences.",
        "Several events will be recorded and made available online for those who cannot attend "
        "in person.",
        "{official2}, a teacher at the local arts school, said students had been preparing for "
        "weeks.",
        "Volunteers will run guided tours for families on weekend mornings.",
        "The programme closes with a free open-air evening in the {district} area, weather "
        "permitting.",
        "Cafes near the venue are offering small discounts to visitors who show a ticket.",
        "The full programme has been published on the website of the {place} cultural centre.",
    ),
    "sport": (
        "The {place} sports department said the town would keep investing in public pitches and "
        "courts.",
        "Coaches said the season had shown how much depth there is among young athletes in the "
        "region.",
        "Spectators were asked to use public transport where possible, as parking near the venue "
        "is limited.",
        "The event was covered live by a local radio station and streamed online by volunteers.",
        "{official2}, who coaches a youth team in the {district} area, said such events help keep "
        "children active.",
        "A local charity collected donations at the entrance to buy equipment for school sports "
        "clubs.",
        "Results and photographs will be posted on the regional federation's website.",
        "The regional federation said it would use the experience to improve arrangements for "
        "stewards and first aid.",
        "Local sports reporters said the day had shown how much interest the sport attracts "
        "across the town.",
        "Volunteers from the town's sports clubs helped with the organisation throughout the day.",
        "Photographs from the day have been shared widely on local community pages.",
    ),
    "technology": (
        "The local technology sector has grown quickly, with dozens of small companies now based "
        "in {place}.",
        "Industry groups say the main challenge for young companies is finding experienced "
        "engineers.",
        "{official2}, who teaches computer science at a {place} college, said students were keen "
        "to work on practical projects.",
        "Privacy campaigners said they would study the details and urged the organisers to "
        "publish clear rules on data use.",
        "A regional innovation fund has supported several similar projects over the past three "
        "years.",
        "Engineers said the pilot would run for several months before any decision on a wider "
        "rollout.",
        "The project relies on open-source software, which organisers say keeps costs down and "
        "makes improvements easy to share.",
        "Feedback from early users will be collected through short online surveys.",
    ),
}

# Closing sentences for stories about public services, plans and projects.
_CIVIC_SENTENCES: tuple[str, ...] = (
    "Local officials said further details would be shared at a public meeting later this month.",
    "A spokesperson for the {place} administration said residents would be kept informed as the "
    "plans develop.",
    "Residents who want to comment can do so by email or in person at the town hall until the "
    "end of the month.",
    "The idea was first discussed last spring, when a working group of residents and officials "
    "drew up a shortlist of options.",
    "Similar schemes have been tried in other towns in the region, with mixed but mostly positive "
    "results.",
    "Not everyone is convinced, and some shop owners in the {district} area said they would wait "
    "to see the practical effect.",
    "The town has said it will review the results after six months and report back to residents.",
    "Funding comes partly from the town budget and partly from a regional development programme.",
)
_CIVIC_SECTIONS = frozenset({"politics", "economy", "society", "technology"})

# Closing sentences that fit any generated story.
_GENERAL_SENTENCES: tuple[str, ...] = (
    "DemoNews will follow the story and publish updates as more information becomes available.",
    "More information is available from the {place} information centre, which is open on weekdays.",
)

_MIN_WORDS = 40
_MAX_WORDS = 90
_MAX_SENTENCE_WORDS = 32
_PARAGRAPH_COUNTS = (4, 4, 5, 5, 5, 6, 7)

# How many generated articles each section gets; with the seed (Politics) and
# the top stories (three Politics, one Society) every section ends up with 10-11.
_GENERATED_PER_SECTION = {
    "politics": 7,
    "economy": 11,
    "society": 9,
    "culture": 11,
    "sport": 11,
    "technology": 10,
}


def _fill(template: str, facts: dict[str, object]) -> str:
    return template.format(**facts)


def _compose(rng: random.Random, sentences: list[str], dateline: str) -> tuple[str, ...]:
    """Group sentences, in order, into 4-7 paragraphs of 40-90 words each."""
    wanted = rng.choice(_PARAGRAPH_COUNTS)
    paragraphs: list[list[str]] = []
    queue = list(sentences)
    while queue and len(paragraphs) < wanted:
        target = rng.randint(42, 56)
        current: list[str] = [dateline] if not paragraphs else []
        count = len(dateline.split()) if not paragraphs else 0
        while queue and count < target:
            sentence = queue.pop(0)
            current.append(sentence)
            count += len(sentence.split())
        paragraphs.append(current)
    last_words = sum(len(s.split()) for s in paragraphs[-1])
    if last_words < _MIN_WORDS:
        tail = paragraphs.pop()
        if sum(len(s.split()) for s in paragraphs[-1]) + last_words <= _MAX_WORDS:
            paragraphs[-1].extend(tail)
    texts = []
    for index, parts in enumerate(paragraphs):
        if index == 0:
            texts.append(parts[0] + " ".join(parts[1:]))
        else:
            texts.append(" ".join(parts))
    return tuple(texts)


def _generated_article(
    rng: random.Random,
    article_id: int,
    slug: str,
    topic: _Topic,
    published: datetime,
    seen_titles: set[str],
    author: str,
) -> DemoArticle:
    for _attempt in range(50):
        facts = _facts(rng, published)
        title = _fill(topic.title, facts)
        if title not in seen_titles:
            break
    else:  # pragma: no cover - the fixed seed never gets here
        raise RuntimeError(f"could not find a distinct title for {article_id}")
    seen_titles.add(title)
    details = [_fill(s, facts) for s in topic.details]
    rng.shuffle(details)
    context = [_fill(s, facts) for s in _SECTION_SENTENCES[slug]]
    rng.shuffle(context)
    civic = [_fill(s, facts) for s in _CIVIC_SENTENCES] if slug in _CIVIC_SECTIONS else []
    rng.shuffle(civic)
    general = [_fill(s, facts) for s in _GENERAL_SENTENCES]
    rng.shuffle(general)
    sentences = [_fill(topic.lead, facts), *details, *context, *civic[:4], *general]
    paragraphs = _compose(rng, sentences, DEMO_DATELINE)
    tags = tuple(dict.fromkeys(_fill(t, facts) for t in topic.tags))
    return DemoArticle(
        id=article_id,
        slug_section=slug,
        section=SECTION_NAMES[slug],
        title=title,
        short_title=short_title_of(title, rng.choice((3, 4))),
        author=author,
        published=published,
        tags=tags,
        paragraphs=paragraphs,
        dateline=DEMO_DATELINE,
    )


def _publication_times(rng: random.Random) -> list[datetime]:
    """One time per article, about four hours apart, the seed fixed at its real time."""
    seed_index = SEED_ARTICLE_ID - FIRST_ARTICLE_ID
    before = [rng.randrange(215, 291, 5) for _ in range(seed_index)]
    after = [rng.randrange(175, 206, 5) for _ in range(ARTICLE_COUNT - 1 - seed_index)]
    times = [SEED_PUBLISHED]
    for gap in reversed(before):
        times.insert(0, times[0] - timedelta(minutes=gap))
    for gap in after:
        times.append(times[-1] + timedelta(minutes=gap))
    return times


def _build_articles() -> tuple[DemoArticle, ...]:
    rng = random.Random(2021)
    times = _publication_times(rng)
    slots = [slug for slug, count in _GENERATED_PER_SECTION.items() for _ in range(count)]
    rng.shuffle(slots)
    decks: dict[str, list[_Topic]] = {slug: [] for slug, _ in SECTIONS}
    bylines: list[str] = []
    seen_titles: set[str] = {SEED_TITLE, *TOP_STORY_TITLES}
    articles: list[DemoArticle] = []
    for index, published in enumerate(times):
        article_id = FIRST_ARTICLE_ID + index
        if article_id == SEED_ARTICLE_ID:
            articles.append(
                DemoArticle(
                    id=article_id,
                    slug_section="politics",
                    section="Politics",
                    title=SEED_TITLE,
                    short_title=SEED_SHORT_TITLE,
                    author=NEWSROOM,
                    published=published,
                    tags=SEED_TAGS,
                    paragraphs=SEED_PARAGRAPHS,
                    dateline=SEED_DATELINE,
                )
            )
        elif article_id in TOP_STORY_IDS:
            rank = TOP_STORY_IDS.index(article_id) + 1
            title = TOP_STORY_TITLES[rank - 1]
            slug, tags = _TOP_STORY_META[rank - 1]
            articles.append(
                DemoArticle(
                    id=article_id,
                    slug_section=slug,
                    section=SECTION_NAMES[slug],
                    title=title,
                    short_title=short_title_of(title, 4),
                    author=NEWSROOM,
                    published=published,
                    tags=tags,
                    paragraphs=_top_story_paragraphs(title, rank, published),
                    dateline=DEMO_DATELINE,
                )
            )
        else:
            slug = slots.pop()
            deck = decks[slug]
            if not deck:
                deck.extend(_TOPICS[slug])
                rng.shuffle(deck)
            topic = deck.pop()
            if not bylines:
                bylines.extend(AUTHORS)
                rng.shuffle(bylines)
            article = _generated_article(
                rng, article_id, slug, topic, published, seen_titles, bylines.pop()
            )
            articles.append(article)
    return tuple(articles)


def _check(articles: tuple[DemoArticle, ...]) -> None:
    """Invariants of the demo data; cheap enough to verify on every import."""
    assert len(articles) == ARTICLE_COUNT
    assert [a.id for a in articles] == list(range(FIRST_ARTICLE_ID, FIRST_ARTICLE_ID + 64))
    assert all(a.published < b.published for a, b in zip(articles, articles[1:], strict=False))
    assert len({a.title for a in articles}) == ARTICLE_COUNT
    assert len({a.teaser for a in articles}) == ARTICLE_COUNT
    for article in articles:
        assert article.paragraphs[0].startswith(article.dateline)
        assert article.title.startswith(article.short_title)
        assert article.short_title != article.title
        assert 1 <= len(article.tags) <= 4
        assert set(article.tags) <= set(TAG_POOL)
        if article.id != SEED_ARTICLE_ID:
            assert 4 <= len(article.paragraphs) <= 7, article.id
            for paragraph in article.paragraphs:
                assert _MIN_WORDS <= len(paragraph.split()) <= _MAX_WORDS, (article.id, paragraph)
    for slug, _name in SECTIONS:
        assert sum(a.slug_section == slug for a in articles) >= 6, slug


def _check_templates() -> None:
    """Every filled sentence is short enough for ``_compose`` to respect the limits."""
    texts = [*_CIVIC_SENTENCES, *_GENERAL_SENTENCES]
    titles = []
    for slug, topics in _TOPICS.items():
        texts.extend(_SECTION_SENTENCES[slug])
        for topic in topics:
            texts.extend((topic.lead, *topic.details))
            titles.append(topic.title)
    probe = random.Random(0)
    for _ in range(8):
        sample = _facts(probe, SEED_PUBLISHED)
        for title in titles:
            assert len(_fill(title, sample).split()) >= 5, title
        for text in texts:
            assert len(_fill(text, sample).split()) <= _MAX_SENTENCE_WORDS, text


_check_templates()
ARTICLES: tuple[DemoArticle, ...] = _build_articles()
_check(ARTICLES)

ARTICLES_BY_ID = MappingProxyType({a.id: a for a in ARTICLES})
SEED_ARTICLE = ARTICLES_BY_ID[SEED_ARTICLE_ID]
TOP_STORIES: tuple[DemoArticle, ...] = tuple(ARTICLES_BY_ID[i] for i in TOP_STORY_IDS)
NEWEST_FIRST: tuple[DemoArticle, ...] = tuple(
    sorted(ARTICLES, key=lambda a: (a.published, a.id), reverse=True)
)


def get_article(article_id: int) -> DemoArticle | None:
    return ARTICLES_BY_ID.get(article_id)


def articles_in_section(slug: str) -> tuple[DemoArticle, ...]:
    """The section's articles, newest first (empty for an unknown slug)."""
    return tuple(a for a in NEWEST_FIRST if a.slug_section == slug)


# --------------------------------------------------------------------------
# The correction: one article as first published, with a wrong figure.
# --------------------------------------------------------------------------

CORRECTED_ARTICLE_ID = 301058
# The wrong figure as first published, and as corrected (the text above).
CORRECTION = (
    "Tickets cost between 2,000 and 45,000 drams",
    "Tickets cost between 2,000 and 4,500 drams",
)


def _first_edition(article: DemoArticle) -> DemoArticle:
    """``article`` with the figure of :data:`CORRECTION` wrong, in one sentence
    that is neither the headline nor the teaser, so listings show the same
    item before and after the correction."""
    wrong, right = CORRECTION
    assert sum(p.count(right) for p in article.paragraphs) == 1, "the corrected sentence moved"
    first = replace(article, paragraphs=tuple(p.replace(right, wrong) for p in article.paragraphs))
    assert (first.title, first.teaser) == (article.title, article.teaser)
    return first


FIRST_EDITION = _first_edition(ARTICLES_BY_ID[CORRECTED_ARTICLE_ID])
