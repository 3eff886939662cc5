from journeys.tracker import JOURNEY_STAGES, get_journey_tracker


def test_recorded_journey_is_served_over_the_api(api_client):
    tracker = get_journey_tracker()
    for stage, name in JOURNEY_STAGES.items():
        tracker.record_checkpoint("evt-smoke", stage, name, 1000.0 + len(stage))
    response = api_client.get("/api/v2/journeys/evt-smoke")
    assert response.status_code == 200
    assert response.json()["path"] == "replied"


def test_missing_api_key_is_401(client):
    response = client.get("/api/v2/journeys/summary")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
