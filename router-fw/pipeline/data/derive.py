#!/usr/bin/env python3
"""Derives trackers.tsv from the WhoTracks.me tracker database (CC BY 4.0).

The source is the SQLite dump `whotracksme/data/assets/trackerdb.sql` inside the PyPI
package `whotracksme` 2018.5.17 (Cliqz GmbH; data licensed CC BY 4.0, code MIT):

    pip download whotracksme==2018.5.17 --no-deps -d /tmp/wtm
    unzip -o /tmp/wtm/whotracksme-2018.5.17-py3-none-any.whl \
        'whotracksme/data/assets/trackerdb.sql' -d /tmp/wtm
    python3 derive.py /tmp/wtm/whotracksme/data/assets/trackerdb.sql > trackers.tsv

Changes made to the data: only the domain, tracker name, category and owning company are
kept (descriptions, URLs and Ghostery ids are dropped); domains are lower-cased; tabs and
line breaks inside names become spaces; rows are sorted by domain.
"""

import sqlite3
import sys


def clean(text):
    """One line of text without tabs, or empty."""
    if text is None:
        return ""
    return " ".join(str(text).split())


def main(path):
    db = sqlite3.connect(":memory:")
    with open(path, encoding="utf-8") as f:
        db.executescript(f.read())
    rows = db.execute(
        """
        SELECT d.domain, t.name, COALESCE(c.name, ''), COALESCE(co.name, '')
        FROM tracker_domains d
        JOIN trackers t ON t.id = d.tracker
        LEFT JOIN categories c ON c.id = t.category_id
        LEFT JOIN companies co ON co.id = t.company_id
        """
    ).fetchall()
    out = sys.stdout
    out.write("# WhoTracks.me tracker database, 2018-05-17 (whotracksme 2018.5.17 on PyPI).\n")
    out.write("# (c) Cliqz GmbH / WhoTracks.me, licensed CC BY 4.0:\n")
    out.write("# https://creativecommons.org/licenses/by/4.0/ . Reduced and reformatted by\n")
    out.write("# derive.py (see NOTICE.md). Columns: domain, tracker, category, owner.\n")
    seen = set()
    for domain, name, category, owner in sorted(rows, key=lambda r: r[0].lower()):
        domain = clean(domain).lower().rstrip(".")
        if not domain or domain in seen:
            continue
        seen.add(domain)
        out.write("\t".join([domain, clean(name), clean(category) or "unknown", clean(owner)]))
        out.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: derive.py trackerdb.sql > trackers.tsv")
    main(sys.argv[1])
