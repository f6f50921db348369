"""Kubernetes access through kubectl: commands against one namespace of one context, port
forwards to its Services, and short-lived probe pods. What a contract makes of it (canary
pods, PodSecurity verdicts, image IDs) is evidence, kept with the kind target
(conformance/targets/kind_evidence.py)."""
