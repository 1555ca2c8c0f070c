"""The generator's knobs: dirt rates, pool bounds and the mix of event types."""

from __future__ import annotations

# --- rates of the controlled dirt, per line -------------------------------------------------
P_BAD = 0.005
P_EXACT_RESEND = 0.01
P_CONFLICT = 0.001
P_CORRECTION = 0.004
P_RETRACTION = 0.002
#: In the first week after the progress cutoff, this share of slots is a late arrival, and
#: corrections and retractions of late-December events are this many times as frequent.
P_LATE_IN_FIRST_WEEK = 0.25
JANUARY_FIX_BOOST = 5

# --- bounded pools --------------------------------------------------------------------------
EMPLOYERS_TOTAL = 12_000
PROJECTS_TOTAL = 3_000
OPEN_CASES_MAX = 6_000
OPEN_LEADS_MAX = 6_000
RECENT_MAX = 512
DECEMBER_MAX = 2_000

#: Relative frequency of each event type in a clean slot (pool-dependent types fall back to
#: creating ones when their pool is empty).
TYPE_WEIGHTS: dict[tuple[str, str], float] = {
    ("inspection", "employer.inspected"): 0.26,
    ("inspection", "arrears.verified"): 0.075,
    ("inspection", "arrears.resolved"): 0.07,
    ("inspection", "order.issued"): 0.05,
    ("inspection", "case.transferred"): 0.008,
    ("inspection", "case.filed"): 0.008,
    ("inspection", "employer.published"): 0.003,
    ("inspection", "employer.blacklisted"): 0.003,
    ("mediation", "dispute.resolved"): 0.10,
    ("court", "execution.concluded"): 0.035,
    ("complaint", "lead.received"): 0.17,
    ("complaint", "lead.merged"): 0.02,
    ("complaint", "lead.verified"): 0.09,
    ("complaint", "lead.closed"): 0.07,
}
#: The (source, type) pairs and their cumulative weights, for a bisect on one random draw.
TYPE_KEYS = list(TYPE_WEIGHTS)
TYPE_CUM = [sum(list(TYPE_WEIGHTS.values())[: i + 1]) for i in range(len(TYPE_WEIGHTS))]
POLICE_FILING_SHARE = 0.76  # of transfers; some are still pending at the end
#: Shares of arrears cases verified on a construction project: a construction employer's,
#: and another industry's (a manufacturer's own plant works): the orders, transfers and
#: filings of those then count in 建筑业 through their case (SPEC 4.1).
CASE_ON_PROJECT_CONSTRUCTION = 0.85
CASE_ON_PROJECT_OTHER = 0.05
#: Types that need no earlier event: what late arrivals and bad records are made from.
SELF_CONTAINED = (
    "employer.inspected",
    "arrears.verified",
    "dispute.resolved",
    "execution.concluded",
)
#: Types a correction may supersede, and (with two more) those a retraction may retract.
CORRECTABLE = frozenset(
    {
        "employer.inspected",
        "arrears.verified",
        "arrears.resolved",
        "dispute.resolved",
        "execution.concluded",
        "lead.received",
    }
)
RETRACTABLE = CORRECTABLE | {"order.issued", "employer.published"}
