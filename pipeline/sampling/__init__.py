"""Statistically sound human review (issue 14): a stratified random sample of the machine's
conversations for reviewers (``zhijian sample``), the number of reviews a margin needs (``--plan``),
and defect rates with intervals from the reviewers' verdicts — classical and prediction-powered,
which adds the machine's findings on every conversation (``zhijian estimate``). docs/SAMPLING.md.

population.py  run folders → one row per conversation with the machine's flags and findings
design.py      strata, allocation, the seeded draw with design weights, the planner
ppi.py         the estimators: stratified classical (Wilson) and prediction-powered
estimate.py    human labels from the workbench's counted reviews → per rule / item / team table
cli.py         the two commands
"""
