"""What users send (request fields, whole requests, CSV rows) read into the domain's commands,
every wrong field named. Pure and synchronous like the domain, below everything that reads input."""
