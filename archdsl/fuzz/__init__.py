"""archdsl's own fuzz harness: generate and mutate .arch inputs, check the checker's promises on each, and
shrink every failure to a small reproducer in tests/regressions/.

    python -m archdsl.fuzz --inputs 100000          # or: make fuzz
    python -m archdsl.fuzz --seconds 3600 --seed 7

`generate.py` writes programs from the grammar, `mutate.py` damages real files, `prop.py` is the property,
`shrink.py` minimises a failing input, `run.py` drives them.
"""
