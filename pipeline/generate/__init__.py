"""A realistic synthetic winter campaign as JSON Lines (SPEC 5), with counted, controlled dirt.

The generator walks the campaign window slot by slot: slot ``i`` of ``N`` gets an event time
from a curve that rises toward the Spring Festival (fewer events on rest days and at night),
and produces exactly one line. Entities (employers, projects, open cases, open leads) live in
bounded pools so that later events can refer to earlier ones (a case verified, then ordered,
transferred, resolved; a lead received, merged, verified, closed) while memory stays flat:
10,000,000 lines stream out with the same footprint as 10,000.

Every line is one of:

- a clean event (``clean``), some of them deliberately late (occurred on or before the
  progress cutoff, recorded after it: ``late_arrival``);
- ``exact_resend``: an earlier event again, same ``event_id`` and content, other key order
  and white space (a no-op for the ledger);
- ``conflicting_resend``: an earlier ``event_id`` with different content and no
  ``supersedes`` (the ledger dead-letters it);
- ``correction``: a new event that ``supersedes`` an earlier one;
- ``retraction``: an ``event.retracted`` of an earlier event;
- ``bad``: a record the contracts reject, of one of the kinds in ``BAD_KINDS``.

The manifest written beside the output (``FILE.manifest.json``) counts all of these per
output file, and the dead-letter reasons the contracts give for the bad lines.

How it is put together (plain objects, each given what it uses; one seeded ``rng`` in ``State``
is the only source of randomness, so the order of the draws is the output):

- ``core.generate`` builds a ``world.World`` and writes its ``lines()`` to ``output.Sink``s,
  then ``output.build_manifest``;
- ``World`` composes ``state.State`` (options, units, times, ids, counters; ``timeline`` for
  the volume curve), ``pools.Pools`` (employers, projects, open cases and leads),
  ``history.History`` (events sent, for resends and fixes), ``events.CleanEvents`` and
  ``dirt.Dirt``, and runs the slot loop;
- ``CleanEvents`` dispatches to one builder per source: ``inspection.InspectionBuilder``,
  ``disputes.MediationBuilder`` and ``CourtBuilder``, ``complaints.ComplaintBuilder``;
- ``Dirt`` makes resends, conflicts, corrections, retractions, and bad records (``bad``);
- ``rates`` holds the knobs, ``names`` the vocabulary, ``records`` the small records,
  ``util`` the pure helpers.

    >>> manifest = generate(GenerateOptions(unit="320400", events=1000, seed=7,
    ...                                     out=Path("/tmp/c.jsonl")))  # doctest: +SKIP
"""

from __future__ import annotations

from pipeline.generate.bad import BAD_KINDS
from pipeline.generate.core import generate
from pipeline.generate.options import GenerateOptions, after_split_path, manifest_path
from pipeline.generate.output import MANIFEST_FORMAT

__all__ = [
    "BAD_KINDS",
    "MANIFEST_FORMAT",
    "GenerateOptions",
    "after_split_path",
    "generate",
    "manifest_path",
]
