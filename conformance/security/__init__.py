"""Security contracts' evidence: read from what runs (container inspect, pod spec/status,
image contents), judged by pure functions so the judgement itself is unit-tested."""
