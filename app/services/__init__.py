"""Async services: database, locks, transactions, repositories."""
