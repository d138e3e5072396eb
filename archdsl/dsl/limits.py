"""Every input limit in one place. Each is checked cheaply, before the work it guards, with a located message.

| limit | value | checked |
|---|---|---|
| file size | `MAX_SOURCE_BYTES` | while reading: at most that many bytes + 1 are read |
| nesting depth | `MAX_NESTING` | on the parse tree, before anything recurses over it |
| number literal | `MAX_NUMBER_CHARS` | when the token is converted |
| layers after expansion | `MAX_NODES` | counted from the syntax tree before expanding (`budget.py`), and again per node |
| expansion steps | `MAX_STEPS` | per item expanded: work that builds no layer is bounded too |
| nested block calls | `MAX_CALL_DEPTH` | per block call |
"""

MAX_SOURCE_BYTES = 5_000_000  # no real architecture is this long
MAX_NESTING = 100  # nested brackets (deepest zoo file: under 10)
MAX_TREE_DEPTH = 400  # levels of the parse tree (a bracket is 2 or 3, an operator 1); the passes recurse about
#                       twice per level, which stays well inside Python's default limit of 1,000 frames
MAX_NUMBER_CHARS = 40  # digits, point and exponent of one number literal
MAX_NODES = 100_000  # a 10,000-layer net is fine; a repeat of 10^9 is refused before it is unrolled
MAX_STEPS = 200_000  # items expanded in one elaboration: twice what a plain 100,000-layer net takes
MAX_CALL_DEPTH = 64  # nested block calls
MAX_ERRORS = 20  # errors reported for one file (check, the language server); the rest wait for these to be fixed
