"""Pure domain: the ledger fold, its rules and errors. Synchronous, stdlib only, no I/O."""
