"""In-network probes: the stdlib-only script a target runs inside its service network
(probe.py) and what it is asked and answers (checks.py). Below the targets, which ship
the script, so they never import the probes or the security code above them."""
