#!/usr/bin/python3
"""Copies a finished study's report and figures into docs/experiments.md.

Usage: /usr/bin/python3 scripts/update-experiments-doc.py [runs]

Replaces the text between the BEGIN/END GENERATED markers of docs/experiments.md with the study's
report.md (headings one level down, image links pointing at docs/images/experiments/), and copies
samples.png and figures/*.svg there. The hand-written discussion outside the markers is kept.
"""
import pathlib, re, shutil, sys

runs = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
root = pathlib.Path(__file__).resolve().parent.parent
doc = root / "docs" / "experiments.md"
images = root / "docs" / "images" / "experiments"
images.mkdir(parents=True, exist_ok=True)
for svg in (runs / "figures").glob("*.svg"):
    shutil.copy(svg, images / svg.name)
shutil.copy(runs / "samples.png", images / "samples.png")

report = (runs / "report.md").read_text()
report = report.split("\n", 1)[1]  # drop the "# Experiment report" title
report = re.sub(r"^(#+) ", r"#\1 ", report, flags=re.M)
report = report.replace("](figures/", "](images/experiments/").replace("](samples.png)", "](images/experiments/samples.png)")
text = doc.read_text()
begin, end = "<!-- BEGIN GENERATED (scripts/update-experiments-doc.py) -->", "<!-- END GENERATED -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
doc.write_text(head + begin + "\n" + report.strip() + "\n" + end + tail)
print(f"updated {doc} from {runs}/report.md")
