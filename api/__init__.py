"""The REST + WebSocket API and the operator UI it serves (api/web/); imports only pairflow."""
