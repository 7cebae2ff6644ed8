#!/usr/bin/env python3
"""Fail unless SUBMISSION's row in GRADES_CSV is graded with full marks: expect_full_marks.py GRADES_CSV SUBMISSION"""

import csv
import sys


def main(grades_csv: str, submission: str) -> int:
    with open(grades_csv, newline="", encoding="utf-8") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    row = rows.get(submission)
    if row is None:
        print(f"{submission} has no row in {grades_csv} (rows: {sorted(rows)})", file=sys.stderr)
        return 1
    if (row["status"], row["score"]) != ("graded", row["max_score"]):
        print(f"{submission} scored {row['score']}/{row['max_score']} ({row['status']}): "
              f"{row['message']}", file=sys.stderr)
        return 1
    print(f"{submission} scored {row['score']}/{row['max_score']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
