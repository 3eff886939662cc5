"""The journey dashboard (/journeys/) in headless Chromium, against a real `manage.py serve` fed by real messages."""
