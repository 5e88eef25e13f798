#!/usr/bin/python3
"""Copies a finished study's report and figures into docs/experiments.md.

Usage: /usr/bin/python3 scripts/update-experiments-doc.py [runs]

Replaces the text between the BEGIN/END GENERATED markers of docs/experiments.md with the study's
report.md (headings one level down, image and figure links pointing at docs/images/experiments/),
and copies samples.png and figures/ (the mean-over-seeds figures and the figures/seed-<s>/ ones of a
single seed) there. The hand-written discussion outside the markers is kept. Refuses a study whose
report says that cells are missing, unless --partial is given: the page shows finished studies.
"""
import pathlib, re, shutil, sys

args = [a for a in sys.argv[1:] if a != "--partial"]
partial = "--partial" in sys.argv[1:]
runs = pathlib.Path(args[0] if args else "runs")
root = pathlib.Path(__file__).resolve().parent.parent
doc = root / "docs" / "experiments.md"
images = root / "docs" / "images" / "experiments"

report_path = runs / "report.md"
if not report_path.is_file():
    sys.exit(f"update-experiments-doc.py: error: {report_path} does not exist (run the study first)")
report = report_path.read_text()
missing = re.search(r"^\*\*(\d+) of (\d+) cells are finished\.\*\*", report, flags=re.M)
if missing and not partial:
    sys.exit(f"update-experiments-doc.py: error: {report_path} covers {missing.group(1)} of {missing.group(2)} "
             "cells; finish the study (or pass --partial)")

images.mkdir(parents=True, exist_ok=True)
figures = runs / "figures"
for svg in figures.rglob("*.svg"):
    target = images / svg.relative_to(figures)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(svg, target)
shutil.copy(runs / "samples.png", images / "samples.png")

report = report.split("\n", 1)[1]  # drop the "# Experiment report" title
report = re.sub(r"^(#+) ", r"#\1 ", report, flags=re.M)
report = report.replace("](figures/", "](images/experiments/").replace("](samples.png)", "](images/experiments/samples.png)")
text = doc.read_text()
begin, end = "<!-- BEGIN GENERATED (scripts/update-experiments-doc.py) -->", "<!-- END GENERATED -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
doc.write_text(head + begin + "\n" + report.strip() + "\n" + end + tail)
print(f"updated {doc} from {report_path} and {figures}")
