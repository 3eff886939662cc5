"""The journey dashboard: server-rendered pages over this process's tracker, and a live WebSocket feed."""
