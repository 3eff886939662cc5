"""Security: the API key on every route, constant-time comparisons, no secret in logs or answers, and
webhook secrets and signatures enforced per instance (issue 6)."""
