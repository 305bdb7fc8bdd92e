"""One router per resource: chat completions, ask, papers, models, health and the web page."""
