"""The runtime authorization policy as the suite sees it: the bundle built from the repo's
sources and its revision, the inputs and expectations derived from them, and the client
that asks the live OPA for decisions."""
